// Test worker for workerd: the parity cases through the public API; arrays come back as base64.
// ?input=NAME&target=top1|c281: the ResNet34 suite. ?onnx=FILE&input=NAME&layer=LAYER: an ONNX model (under the
// assets), its top-1 class, with guided backpropagation.
import { createExplainer, decodeNpy } from 'gradcam-wasm';
import tfjsWasmModule from './tfjs-backend-wasm-simd.wasm';
import kernels from './kernels.wasm';
import heapKernels from './heap.wasm';

const layers = ['layer1', 'layer2', 'layer3', 'layer4'];
let ready;
const b64 = (a) => {
  const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
  return btoa(s);
};

export default {
  async fetch(request, env) {
    const q = new URL(request.url).searchParams;
    if (!q.get('input')) return new Response('ok');
    if (q.get('onnx')) return explainOnnx(env, q);
    ready ??= createExplainer({ weights: `${env.ASSETS_URL}/reference/resnet34-seed1.safetensors`, tfjsWasmModule, kernels, heapKernels });
    const ex = await ready;
    const npy = decodeNpy(new Uint8Array(await (await fetch(`${env.ASSETS_URL}/reference/inputs/${q.get('input')}.input.npy`)).arrayBuffer()));
    const target = q.get('target') === 'c281' ? 281 : undefined;
    const e = await ex.explain({ tensor: npy.data, shape: npy.shape }, { layers, target, guided: true });
    return Response.json({
      runtime: ex.runtime,
      logits: b64(e.logits),
      maps: Object.fromEntries(layers.map((l) => [l, b64(e.cams[l].map)])),
      raws: Object.fromEntries(layers.map((l) => [l, { data: b64(e.cams[l].raw), shape: [e.cams[l].rawHeight, e.cams[l].rawWidth] }])),
      guided: b64(e.guided),
      guidedGradCam: Object.fromEntries(layers.map((l) => [l, b64(e.guidedGradCam[l])])),
    });
  },
};

async function explainOnnx(env, q) {
  const ex = await createExplainer({ model: `${env.ASSETS_URL}/${q.get('onnx')}`, tfjsWasmModule, kernels, heapKernels });
  try {
    const npy = decodeNpy(new Uint8Array(await (await fetch(`${env.ASSETS_URL}/reference/inputs/${q.get('input')}.input.npy`)).arrayBuffer()));
    const layer = q.get('layer');
    const e = await ex.explain({ tensor: npy.data, shape: npy.shape }, { layers: [layer], guided: true });
    return Response.json({ runtime: ex.runtime, labels: ex.labels?.length, logits: b64(e.logits), map: b64(e.cams[layer].map), guided: b64(e.guided) });
  } finally {
    ex.dispose();
  }
}
