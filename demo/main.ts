// The demo page: everything is computed here, in the browser, through the package's public API.
import {
  CAM_METHODS, createExplainer, loadKernels, matchClass, renderGuided, renderOverlay, resizeRgbPillowBilinear, topK,
  type CamMethodName, type Explainer, type Explanation, type Pixels, type Preprocessing,
} from 'gradcam-wasm';
import { pixelsToTensor, roadCombined } from 'gradcam-wasm/metrics';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** Lets the page repaint and take clicks between model passes (the compute runs on this thread). */
const yieldToPage = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const status = (text: string) => ($('status').textContent = text);
const params = new URLSearchParams(location.search);
const runtimeOptions = { tfjsWasmPaths: '/tfjs-wasm/', kernels: '/kernels/kernels.wasm', heapKernels: '/kernels/' };
const kernels = loadKernels(runtimeOptions);

let explainer: Explainer | undefined;
let preprocess: Preprocessing = 'imagenet'; // the loaded model's, which ROAD's perturbed inputs also need
let image: Pixels | undefined; // RGB at its own size
let input: Pixels | undefined; // RGB at 224x224
let current: Explanation | undefined;
/** ROAD combined of the current explanation's maps, by layer, as they are computed. */
let roadScores = new Map<string, number>();
/** The explanation (and its ROAD scores) being computed; a new choice aborts it. */
let running: AbortController | undefined;

// Every method the package has; the slow ones say so.
($('method') as HTMLSelectElement).append(
  ...(Object.keys(CAM_METHODS) as CamMethodName[]).map((name) => {
    const m = CAM_METHODS[name];
    const note = m.wholeModel ? ' (whole network, no layer)' : m.reruns ? ' (slow: one pass per channel)' : '';
    return new Option(`${name}${note}`, name);
  }),
);

async function loadModel(): Promise<void> {
  const kind = (document.querySelector('input[name=model]:checked') as HTMLInputElement).value;
  preprocess = ($('preprocess') as HTMLSelectElement).value as Preprocessing;
  status('Loading the model...');
  stop();
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
    // Class names to pick from: the option's value is the index, which the class box also takes.
    $('class-names').replaceChildren(...(explainer.labels ?? []).map((label, i) => new Option(label, String(i))));
    document.body.dataset.threads = String(explainer.runtime.threads);
    document.body.dataset.heapKernels = String(explainer.runtime.heapKernels);
    status(`Model ready in ${Math.round(performance.now() - t)} ms (${explainer.runtime.threads} thread${explainer.runtime.threads > 1 ? 's' : ''}, SIMD ${explainer.runtime.simd ? 'on' : 'off'}). Now pick an image.`);
    if (input) await predict();
  } catch (err) {
    status(`Could not load the model: ${(err as Error).message}`);
  }
}

async function setImage(blob: Blob): Promise<void> {
  stop();
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

/** The top-5 classes (each a button that explains it), then the explanation of the chosen target. */
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
      button.onclick = () => {
        ($('target') as HTMLInputElement).value = String(p.index);
        void explain();
      };
      li.append(button);
      return li;
    }),
  );
  await explain();
}

/** The class box: empty is the top-1 class; otherwise an index or a name, matched as the CLI's --target. */
function chosenClass(ex: Explainer): number | undefined {
  const text = ($('target') as HTMLInputElement).value.trim();
  return text ? matchClass(text, ex.labels, ex.numClasses) : undefined;
}

/** Stops the explanation or ROAD score being computed (its promise rejects with AbortError). */
function stop(): void {
  running?.abort();
  running = undefined;
  $('progress').hidden = true;
}

function showProgress(text: string, fraction?: number): void {
  const bar = $('progress-bar') as HTMLProgressElement;
  if (fraction === undefined) bar.removeAttribute('value'); // indeterminate
  else bar.value = fraction;
  $('progress-text').textContent = text;
  $('progress').hidden = false;
}

/**
 * Explains the chosen target with the chosen method, draws the maps, then computes each map's ROAD
 * score (deepest first). A new choice aborts all of it: nothing of an aborted run is drawn.
 */
async function explain(): Promise<void> {
  const ex = explainer;
  if (!ex || !input) return;
  stop();
  delete document.body.dataset.explained;
  delete document.body.dataset.road;
  let target: number | undefined;
  try {
    target = chosenClass(ex);
  } catch (err) {
    status(`Class: ${(err as Error).message}`); // unknown or ambiguous, with the close matches
    return;
  }
  const run = new AbortController();
  running = run;
  const { signal } = run;
  const method = ($('method') as HTMLSelectElement).value as CamMethodName;
  const score = ($('score') as HTMLSelectElement).value as 'logit' | 'softmax';
  const wholeModel = CAM_METHODS[method].wholeModel !== undefined;
  const layers = wholeModel ? [] : ex.layers.includes('layer1') ? ['layer1', 'layer2', 'layer3', 'layer4'] : pickLayers(ex);
  status(`Explaining with ${method}...`);
  showProgress(`${method}: running`);
  try {
    await yieldToPage(); // shows the list and the progress before the first pass
    if (signal.aborted) return;
    const t = performance.now();
    const e = await ex.explain(input, {
      method,
      target: { class: target, score },
      ...(wholeModel ? {} : { layers }),
      guided: true,
      signal,
      onProgress: ({ done, total }) => showProgress(`${method}: ${done} / ${total} channels`, done / total),
    });
    if (signal.aborted) return;
    const ms = performance.now() - t;
    current = e;
    roadScores = new Map();
    await drawMaps();
    document.querySelectorAll('#predictions button').forEach((b) => b.classList.toggle('active', (b as HTMLElement).dataset.class === String(e.target)));
    const what = wholeModel ? `${method} (every bias)` : `${method} for ${layers.length} layer${layers.length > 1 ? 's' : ''}`;
    const threads = `${ex.runtime.threads} thread${ex.runtime.threads > 1 ? 's' : ''}`;
    $('timing').textContent = `${what} + guided backpropagation: ${Math.round(ms)} ms on ${threads}; class ${e.target} (${ex.labels?.[e.target!] ?? '-'}), ${score}.`;
    document.body.dataset.explained = String(e.target);
    document.body.dataset.method = method;
    await scoreMaps(ex, e, score, signal);
    if (signal.aborted) return;
    document.body.dataset.road = 'done';
    status('Done. Pick another method, class or score to compare.');
  } catch (err) {
    if (signal.aborted) return; // AbortError of a run replaced by a newer choice
    status(`Could not explain: ${(err as Error).message}`);
  } finally {
    if (running === run) stop();
  }
}

/** ROAD combined of each drawn map, deepest first, as `gradcam evaluate` computes it (noise 0.01, seed 0). */
async function scoreMaps(ex: Explainer, e: Explanation, score: 'logit' | 'softmax', signal: AbortSignal): Promise<void> {
  const tensor = pixelsToTensor(input!, preprocess);
  const model = { predict: async (x: Parameters<Explainer['predict']>[0]) => (await yieldToPage(), ex.predict(x)) };
  const layers = Object.keys(e.cams).reverse();
  for (const [i, layer] of layers.entries()) {
    status(`Scoring the maps' faithfulness (ROAD combined: ${19 * layers.length} model passes)...`);
    const value = await roadCombined(model, tensor, e.cams[layer]!.map, {
      target: e.target,
      score,
      signal,
      onProgress: ({ done, total }) => showProgress(`ROAD of ${layer} (map ${i + 1} of ${layers.length}): ${done} / ${total} passes`, (i * total + done) / (layers.length * total)),
    });
    if (signal.aborted) return;
    roadScores.set(layer, value);
    showRoad(layer);
  }
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
    const road = document.createElement('div');
    road.className = 'road';
    figure.append(caption, overlay, guided, road);
    return figure;
  });
  $('maps').replaceChildren(...figures);
  for (const layer of Object.keys(e.cams)) showRoad(layer);
}

/** A map's ROAD score under it (data-road: the exact value), or that it is still to come. */
function showRoad(layer: string): void {
  const figure = [...document.querySelectorAll<HTMLElement>('#maps figure')].find((f) => f.dataset.layer === layer);
  const line = figure?.querySelector('.road');
  if (!figure || !line) return;
  const value = roadScores.get(layer);
  if (value === undefined) {
    line.textContent = 'ROAD combined: ...';
    return;
  }
  figure.dataset.road = String(value);
  line.replaceChildren('ROAD combined: ', Object.assign(document.createElement('strong'), { textContent: value.toFixed(4) }));
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
// A new choice explains again, aborting what is being computed.
$('method').onchange = () => void explain();
$('score').onchange = () => void explain();
$('target').onchange = () => void explain();
$('stop').onclick = () => {
  stop();
  status('Stopped.');
};
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
