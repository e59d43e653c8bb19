// A Cloudflare Worker (workerd): POST an image, get the Grad-CAM overlay PNG back.
// The .wasm files are imported as modules, because workerd forbids compiling wasm at run time.
// Configure MODEL_URL (a TF.js layers model.json) and PREPROCESS ('tf' for Keras MobileNet).
import { createExplainer, decodeImage, encodePng, loadKernels, renderOverlay, resizeRgbPillowBilinear, topK } from 'gradcam-wasm';
import tfjsWasmModule from './tfjs-backend-wasm-simd.wasm';
import kernels from './kernels.wasm';
import heapKernels from './heap.wasm';

let ready; // one explainer per isolate, created on the first request

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') return new Response('POST an image (PNG or JPEG) to get its Grad-CAM overlay\n', { status: 405 });
    const started = Date.now();
    const cold = !ready;
    ready ??= Promise.all([
      createExplainer({ model: env.MODEL_URL, preprocess: env.PREPROCESS ?? 'tf', tfjsWasmModule, kernels, heapKernels }),
      loadKernels({ kernels }),
    ]);
    try {
      const [explainer, kernelSet] = await ready;
      const image = await decodeImage(new Uint8Array(await request.arrayBuffer()));
      const input = resizeRgbPillowBilinear(image, 224, 224);
      const e = await explainer.explain(input);
      const [best] = topK(e.logits, 1, explainer.labels);
      const png = await encodePng(renderOverlay(kernelSet, image, e.combined, e.width, e.height));
      return new Response(png, {
        headers: {
          'content-type': 'image/png',
          'x-class': String(best.index),
          'x-label': encodeURIComponent(best.label ?? ''),
          'x-probability': best.probability.toFixed(4),
          'x-cold-start': String(cold),
          'x-ms': String(Date.now() - started),
        },
      });
    } catch (err) {
      return new Response(`${err.name}: ${err.message}\n`, { status: err.code === 'IMAGE_DECODE_ERROR' || err.code === 'INVALID_INPUT' ? 400 : 500 });
    }
  },
};
