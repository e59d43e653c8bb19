// The demo page: everything is computed here, in the browser, through the package's public API.
import {
  createExplainer, loadKernels, renderGuided, renderOverlay, resizeRgbPillowBilinear, topK,
  type Explainer, type Explanation, type Pixels,
} from 'gradcam-wasm';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string) => ($('status').textContent = text);
const params = new URLSearchParams(location.search);
const runtimeOptions = { tfjsWasmPaths: '/tfjs-wasm/', kernels: '/kernels/kernels.wasm', heapKernels: '/kernels/' };
const kernels = loadKernels(runtimeOptions);

let explainer: Explainer | undefined;
let image: Pixels | undefined; // RGB at its own size
let input: Pixels | undefined; // RGB at 224x224
let current: Explanation | undefined;

async function loadModel(): Promise<void> {
  const kind = (document.querySelector('input[name=model]:checked') as HTMLInputElement).value;
  const preprocess = ($('preprocess') as HTMLSelectElement).value as 'tf' | 'imagenet';
  status('Loading the model...');
  explainer?.dispose();
  explainer = undefined;
  try {
    const t = performance.now();
    if (kind === 'resnet34') {
      const file = ($('weights-file') as HTMLInputElement).files?.[0];
      const weights = file ? new Uint8Array(await file.arrayBuffer()) : ($('weights-url') as HTMLInputElement).value;
      if (!weights) throw new Error('pick a safetensors file or give its URL');
      explainer = await createExplainer({ model: 'resnet34', weights, preprocess, ...runtimeOptions });
    } else if (kind === 'onnx') {
      // A file (picked or dropped) as its bytes; a URL as is, so that a <name>.labels.json beside it is found.
      const file = ($('onnx-file') as HTMLInputElement).files?.[0];
      const model = file ? new Uint8Array(await file.arrayBuffer()) : ($('onnx-url') as HTMLInputElement).value;
      if (!model) throw new Error('pick an .onnx file or give its URL');
      explainer = await createExplainer({ model, preprocess, ...runtimeOptions });
    } else {
      const url = ($('model-url') as HTMLInputElement).value;
      if (!url) throw new Error('give the URL of a TF.js model.json');
      explainer = await createExplainer({ model: url, preprocess, ...runtimeOptions });
    }
    document.body.dataset.threads = String(explainer.runtime.threads);
    document.body.dataset.heapKernels = String(explainer.runtime.heapKernels);
    status(`Model ready in ${Math.round(performance.now() - t)} ms (${explainer.runtime.threads} thread${explainer.runtime.threads > 1 ? 's' : ''}, SIMD ${explainer.runtime.simd ? 'on' : 'off'}). Now pick an image.`);
    if (input) await predict();
  } catch (err) {
    status(`Could not load the model: ${(err as Error).message}`);
  }
}

async function setImage(blob: Blob): Promise<void> {
  try {
    // No colour management, as Pillow and the CLI decode: the same pixels, so the same maps.
    const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', colorSpaceConversion: 'none' });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#fff'; // transparent pixels over white, as the CLI does
    ctx.fillRect(0, 0, bitmap.width, bitmap.height);
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
    for (let i = 0; i < bitmap.width * bitmap.height; i++) rgb.set(rgba.subarray(i * 4, i * 4 + 3), i * 3);
    image = { data: rgb, width: bitmap.width, height: bitmap.height };
    input = resizeRgbPillowBilinear(image, 224, 224);
    draw($('input-canvas') as HTMLCanvasElement, input);
    await predict();
  } catch (err) {
    status(`Could not read the image: ${(err as Error).message}`);
  }
}

async function predict(): Promise<void> {
  if (!explainer || !input) return;
  const logits = await explainer.predict(input);
  const list = $('predictions');
  list.replaceChildren(
    ...topK(logits, 5, explainer.labels).map((p) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.class = String(p.index);
      button.textContent = `${p.label ?? `class ${p.index}`}: ${(p.probability * 100).toFixed(1)}%`;
      button.onclick = () => explain(p.index);
      li.append(button);
      return li;
    }),
  );
  status('Click a class to see what the network looks at for it.');
}

async function explain(target: number): Promise<void> {
  if (!explainer || !input) return;
  document.querySelectorAll('#predictions button').forEach((b) => b.classList.toggle('active', (b as HTMLElement).dataset.class === String(target)));
  status('Explaining...');
  const layers = explainer.layers.includes('layer1') ? ['layer1', 'layer2', 'layer3', 'layer4'] : pickLayers(explainer);
  const t = performance.now();
  current = await explainer.explain(input, { target, layers, guided: true });
  const ms = performance.now() - t;
  await drawMaps();
  document.body.dataset.explained = String(target);
  $('timing').textContent = `Grad-CAM for ${layers.length} layers + guided backpropagation: ${Math.round(ms)} ms on ${explainer.runtime.threads} thread${explainer.runtime.threads > 1 ? 's' : ''}.`;
  status('Done.');
}

/**
 * Four layers spread over the network's depth, ending at its default layer: for a torch module path
 * (ONNX), the default's siblings (features.18 among features.N); for a layers model, its activations.
 */
function pickLayers(ex: Explainer): string[] {
  const end = ex.defaultLayers[0]!;
  const parent = end.slice(0, end.lastIndexOf('.') + 1);
  const candidates = parent
    ? ex.layers.filter((l) => l.startsWith(parent) && !l.slice(parent.length).includes('.'))
    : ex.layers.filter((l) => /relu|act|add/i.test(l));
  const pool = candidates.slice(0, candidates.lastIndexOf(end) + 1);
  return [0.35, 0.6, 0.8, 1].map((f) => pool[Math.max(0, Math.round(f * (pool.length - 1)))]!).filter((l, i, a) => a.indexOf(l) === i);
}

async function drawMaps(): Promise<void> {
  if (!current || !input) return;
  const k = await kernels;
  const e = current;
  const imageWeight = 1 - Number(($('opacity') as HTMLInputElement).value);
  const figures = Object.entries(e.cams).map(([layer, cam]) => {
    const figure = document.createElement('figure');
    figure.dataset.layer = layer;
    const caption = document.createElement('figcaption');
    caption.textContent = layer;
    const overlay = document.createElement('canvas');
    overlay.className = 'gradcam';
    draw(overlay, renderOverlay(k, input!, cam.map, e.width, e.height, imageWeight));
    const guided = document.createElement('canvas');
    guided.className = 'guided-gradcam';
    draw(guided, renderGuided(e.guidedGradCam![layer]!, e.width, e.height));
    figure.append(caption, overlay, guided);
    return figure;
  });
  $('maps').replaceChildren(...figures);
}

function draw(canvas: HTMLCanvasElement, px: Pixels): void {
  canvas.width = px.width;
  canvas.height = px.height;
  const rgba = new ImageData(px.width, px.height);
  for (let i = 0; i < px.width * px.height; i++) {
    rgba.data.set(px.data.subarray(i * 3, i * 3 + 3), i * 4);
    rgba.data[i * 4 + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(rgba, 0, 0);
}

/** Selects a kind of model, with its usual preprocessing (PyTorch models: ImageNet mean/std). */
function selectModel(kind: 'layers' | 'resnet34' | 'onnx'): void {
  (document.querySelector(`input[name=model][value=${kind}]`) as HTMLInputElement).checked = true;
  ($('preprocess') as HTMLSelectElement).value = kind === 'layers' ? 'tf' : 'imagenet';
}

document.querySelectorAll<HTMLInputElement>('input[name=model]').forEach((radio) => {
  radio.onchange = () => selectModel(radio.value as 'layers' | 'resnet34' | 'onnx');
});
$('load-model').onclick = () => void loadModel();
($('weights-file') as HTMLInputElement).onchange = () => selectModel('resnet34');
// An .onnx file picked (or dropped on the image area) is loaded at once.
($('onnx-file') as HTMLInputElement).onchange = () => {
  selectModel('onnx');
  void loadModel();
};
$('opacity').oninput = () => void drawMaps();
($('image-file') as HTMLInputElement).onchange = (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (file) void setImage(file);
};
const drop = $('drop');
drop.ondragover = (ev) => {
  ev.preventDefault();
  drop.classList.add('over');
};
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (ev) => {
  ev.preventDefault();
  drop.classList.remove('over');
  const files = ev.dataTransfer?.files;
  if (files?.[0] && /\.onnx$/i.test(files[0].name)) {
    ($('onnx-file') as HTMLInputElement).files = files;
    $('onnx-file').dispatchEvent(new Event('change'));
  } else if (files?.[0]) void setImage(files[0]);
};
document.querySelectorAll<HTMLButtonElement>('[data-sample]').forEach((b) => {
  b.onclick = async () => setImage(await (await fetch(b.dataset.sample!)).blob());
});

// ?model=<model.json or .onnx URL> preselects a layers or ONNX model and loads it.
const preset = params.get('model');
if (preset) {
  const onnx = /\.onnx$/i.test(preset);
  ($(onnx ? 'onnx-url' : 'model-url') as HTMLInputElement).value = preset;
  selectModel(onnx ? 'onnx' : 'layers');
  void loadModel();
}
