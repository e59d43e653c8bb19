import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { UsageError } from './errors.js';
import type { CliIO } from './main.js';
import { createProgress } from './progress.js';
import { createExplainer, type Explainer, type Explanation } from '../explainer.js';
import { CAM_METHODS, type CamMethodName } from '../methods/index.js';
import { matchClass } from '../labels/match.js';
import { decodeNpy, encodeNpy } from '../io/npy.js';
import { readBytes } from '../runtime/io.js';
import { decodeImage, DEFAULT_MAX_IMAGE_PIXELS } from '../image/decode.js';
import { resizeRgbPillowBilinear } from '../image/resize.js';
import type { ModelInput, Pixels, Preprocessing } from '../image/preprocess.js';
import { GradcamError, InvalidInputError } from '../errors.js';
import { loadKernels } from '../runtime/index.js';
import type { Kernels } from '../kernels/types.js';
import { renderGuided, renderHeatmap, renderOverlay } from '../image/render.js';
import { encodePng } from '../image/encode.js';
import { renderFigure } from '../image/figure.js';
import { topK, type Prediction } from '../predictions.js';
import { defaultResnet34WeightsFile } from '../weights/hub.js';

export const EXPLAIN_USAGE = `  gradcam explain <input...> [options]
      <input>             PNG/JPEG image(s), or .npy float32 tensors [1,3,H,W] / [3,H,W] (already normalised)
      --out DIR           output folder (default: gradcam-out); each input writes into DIR/<input name>/
      --weights FILE|URL  ResNet34 safetensors (torchvision/timm names); default: torchvision's ImageNet
                          weights (timm/resnet34.tv_in1k), downloaded once into the cache
      --model FILE|URL    a TF.js layers model.json instead of ResNet34 (e.g. MobileNet)
      --preprocess P      imagenet (mean/std; ResNet34 default) or tf (x/127.5 - 1; --model default)
      --layers LIST       comma-separated target layers (default: layer1..layer4 for ResNet34, the last
                          spatial layer otherwise)
      --target CLASS      class to explain: an index or a class name, matched case-insensitively to
                          any comma-separated synonym of a label ('tabby', 'tiger cat'); default: top-1
      --score S           logit (default) or softmax (the gradient of the class's probability)
      --method NAME       ${Object.keys(CAM_METHODS).join(', ')} (default: gradcam);
                          fullgrad has no target layer: it writes cam-fullgrad.npy and ignores --layers
      --eigen-smooth      first principal component of the weighted activations instead of their sum
      --aug-smooth        mean map over horizontal flip x input scale 0.9, 1, 1.1 (six passes)
      --no-guided         skip guided backpropagation and Guided Grad-CAM
      --size S            model input: 224 (default, 224x224), native, or N (shorter side N)
      --raw               also write NumPy .npy arrays (logits, maps, guided gradients)
      --json              print machine-readable results on stdout
      --offline           never download; use the cache or --weights
      --max-pixels N      refuse larger images before decoding (default ${DEFAULT_MAX_IMAGE_PIXELS})
      --threads N         convolution threads, 1..8 (default: all cores)
      --verbose           stack traces on errors`;

const OPTIONS = {
  weights: { type: 'string' },
  model: { type: 'string' },
  preprocess: { type: 'string' },
  out: { type: 'string', default: 'gradcam-out' },
  layers: { type: 'string' },
  target: { type: 'string' },
  method: { type: 'string', default: 'gradcam' },
  score: { type: 'string', default: 'logit' },
  'eigen-smooth': { type: 'boolean', default: false },
  'aug-smooth': { type: 'boolean', default: false },
  guided: { type: 'boolean', default: true },
  'no-guided': { type: 'boolean', default: false },
  size: { type: 'string', default: '224' },
  raw: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  offline: { type: 'boolean', default: false },
  'max-pixels': { type: 'string' },
  threads: { type: 'string' },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface ExplainArgs {
  readonly inputs: string[];
  readonly weights: string | undefined;
  readonly model: string | undefined;
  readonly preprocess: Preprocessing;
  readonly out: string;
  readonly layers: string[] | undefined;
  /** An index or a class name; resolved against the model's labels once it is loaded. */
  readonly target: string | undefined;
  readonly score: 'logit' | 'softmax';
  readonly method: CamMethodName;
  readonly eigenSmooth: boolean;
  readonly augSmooth: boolean;
  readonly guided: boolean;
  readonly size: number | 'native' | 'square224';
  readonly raw: boolean;
  readonly json: boolean;
  readonly offline: boolean;
  readonly maxPixels: number;
  readonly threads: number | undefined;
}

const integer = (flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be an integer${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` >= ${min}`}, got '${value}'`);
  }
  return Number(value);
};

function parse(argv: readonly string[]): ExplainArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return 'help';
  if (positionals.length === 0) throw new UsageError('explain needs at least one input file');
  if (v.weights && v.model) throw new UsageError('--weights is for ResNet34; a --model brings its own weights');
  const method = v.method as CamMethodName;
  if (!Object.hasOwn(CAM_METHODS, method)) throw new UsageError(`unknown --method '${method}'; available: ${Object.keys(CAM_METHODS).join(', ')}`);
  if (v.score !== 'logit' && v.score !== 'softmax') throw new UsageError(`--score must be logit or softmax, got '${v.score}'`);
  if (v.target !== undefined && !v.target.trim()) throw new UsageError('--target is empty');
  const preprocess = (v.preprocess ?? (v.model ? 'tf' : 'imagenet')) as Preprocessing;
  if (preprocess !== 'imagenet' && preprocess !== 'tf') throw new UsageError(`--preprocess must be imagenet or tf, got '${preprocess}'`);
  let size: ExplainArgs['size'];
  if (v.size === '224') size = 'square224';
  else if (v.size === 'native') size = 'native';
  else size = integer('size', v.size, 32);
  const layers = v.layers?.split(',').map((s) => s.trim()).filter(Boolean);
  if (layers && layers.length === 0) throw new UsageError('--layers is empty');
  return {
    inputs: positionals,
    weights: v.weights,
    model: v.model,
    preprocess,
    out: v.out,
    layers,
    target: v.target,
    score: v.score,
    method,
    eigenSmooth: v['eigen-smooth'],
    augSmooth: v['aug-smooth'],
    guided: v.guided && !v['no-guided'],
    size,
    raw: v.raw,
    json: v.json,
    offline: v.offline,
    maxPixels: v['max-pixels'] === undefined ? DEFAULT_MAX_IMAGE_PIXELS : integer('max-pixels', v['max-pixels'], 1),
    threads: v.threads === undefined ? undefined : integer('threads', v.threads, 1, 8),
  };
}

/** The model input for a file (a .npy tensor as is, an image decoded and resized) and the original image, if any. */
async function loadInput(path: string, args: ExplainArgs): Promise<{ input: ModelInput; image?: Pixels; modelImage?: Pixels }> {
  const bytes = await readBytes(path, 'input');
  if (extname(path).toLowerCase() === '.npy') {
    const npy = decodeNpy(bytes);
    if (npy.dtype !== 'float32') throw new InvalidInputError(`.npy input must be float32, got ${npy.dtype}`);
    return { input: { tensor: npy.data as Float32Array, shape: npy.shape } };
  }
  const image = await decodeImage(bytes, args.maxPixels);
  const modelImage = resizeForModel(image, args.size);
  return { input: modelImage, image, modelImage };
}

function resizeForModel(px: Pixels, size: ExplainArgs['size']): Pixels {
  if (size === 'native') return px;
  if (size === 'square224') return resizeRgbPillowBilinear(px, 224, 224);
  const scale = size / Math.min(px.width, px.height);
  return resizeRgbPillowBilinear(px, Math.max(1, Math.round(px.width * scale)), Math.max(1, Math.round(px.height * scale)));
}

/** Every picture file of an explanation, by file name. */
function pictures(kernels: Kernels, e: Explanation, image: Pixels | undefined): Map<string, Pixels> {
  const out = new Map<string, Pixels>();
  for (const [layer, cam] of Object.entries(e.cams)) {
    if (image) out.set(`gradcam-${layer}.png`, renderOverlay(kernels, image, cam.map, e.width, e.height));
    out.set(`heatmap-${layer}.png`, renderHeatmap(kernels, cam.map, e.width, e.height));
  }
  if (e.guided) {
    out.set('guided-backprop.png', renderGuided(e.guided, e.width, e.height));
    for (const [layer, g] of Object.entries(e.guidedGradCam ?? {})) out.set(`guided-gradcam-${layer}.png`, renderGuided(g, e.width, e.height));
  }
  return out;
}

/** The figure from the pictures already drawn; only the overlays are redrawn, at the model's input size. */
async function figure(kernels: Kernels, e: Explanation, drawn: Map<string, Pixels>, modelImage: Pixels | undefined, target: Prediction): Promise<Uint8Array> {
  const name = target.label ?? `class ${target.index}`;
  const header = `${name} (class ${target.index}, p = ${target.probability.toFixed(3)})`;
  const input = modelImage ?? renderHeatmap(kernels, new Float32Array(e.width * e.height), e.width, e.height);
  const columns = [
    { title: 'input', top: input, bottom: drawn.get('guided-backprop.png') },
    ...Object.entries(e.cams).map(([layer, cam]) => ({
      title: layer,
      top: modelImage ? renderOverlay(kernels, modelImage, cam.map, e.width, e.height) : drawn.get(`heatmap-${layer}.png`)!,
      bottom: drawn.get(`guided-gradcam-${layer}.png`),
    })),
  ];
  return renderFigure(header, columns);
}

function rawArrays(e: Explanation): [string, Uint8Array][] {
  const files: [string, Uint8Array][] = [['logits.npy', encodeNpy(e.logits, [e.logits.length])]];
  for (const [layer, cam] of Object.entries(e.cams)) {
    files.push([`cam-${layer}.npy`, encodeNpy(cam.map, [e.height, e.width])]);
    files.push([`cam-${layer}-raw.npy`, encodeNpy(cam.raw, [cam.rawHeight, cam.rawWidth])]);
  }
  if (e.guided) {
    files.push(['guided.npy', encodeNpy(e.guided, [e.height, e.width, 3])]);
    for (const [layer, g] of Object.entries(e.guidedGradCam ?? {})) files.push([`guided-gradcam-${layer}.npy`, encodeNpy(g, [e.height, e.width, 3])]);
  }
  return files;
}

interface Result {
  readonly input: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly outDir?: string;
  readonly target?: Prediction;
  readonly top5?: Prediction[];
  readonly files?: string[];
  readonly ms: number;
}

async function explainOne(path: string, args: ExplainArgs, targetClass: number | undefined, explainer: Explainer, kernels: Kernels, io: CliIO): Promise<Result> {
  const start = performance.now();
  const { input, image, modelImage } = await loadInput(path, args);
  // The seed's figure: all four stages for ResNet34; the model's default layer otherwise.
  const layers = args.layers ?? (args.model ? undefined : ['layer1', 'layer2', 'layer3', 'layer4']);
  // Methods that rerun the network and aug-smooth take a while: a bar with ETA on a terminal.
  const long = CAM_METHODS[args.method].reruns === true || args.augSmooth;
  const bar = long && io.isTTY ? createProgress(io.stderr, true, `${args.method}${args.augSmooth ? ' (aug-smooth)' : ''}`, 'items') : undefined;
  const e = await explainer.explain(input, {
    layers,
    target: { class: targetClass, score: args.score },
    guided: args.guided,
    method: args.method,
    eigenSmooth: args.eigenSmooth,
    augSmooth: args.augSmooth,
    onProgress: bar && ((p) => bar.update(p.done, p.total)),
  });
  bar?.finish();
  const ranked = topK(e.logits, e.logits.length, explainer.labels);
  const target = ranked.find((p) => p.index === e.target)!;
  const dir = join(args.out, basename(path, extname(path)));
  await mkdir(dir, { recursive: true });
  const drawn = pictures(kernels, e, image);
  const files: [string, Uint8Array][] = await Promise.all([...drawn].map(async ([name, px]) => [name, await encodePng(px)] as [string, Uint8Array]));
  files.push(['figure.png', await figure(kernels, e, drawn, modelImage, target)]);
  if (args.raw) files.push(...rawArrays(e));
  await Promise.all(files.map(([name, bytes]) => writeFile(join(dir, name), bytes)));
  return { input: path, ok: true, outDir: dir, target, top5: ranked.slice(0, 5), files: files.map(([n]) => n), ms: performance.now() - start };
}

/** --target as a class index: a number or a name of the model's labels; unknown or ambiguous names are usage errors. */
function matchTarget(query: string, explainer: Explainer): number {
  try {
    return matchClass(query, explainer.labels, explainer.numClasses);
  } catch (err) {
    if (err instanceof GradcamError) throw new UsageError(`--target: ${err.message}`);
    throw err;
  }
}

async function loadExplainer(args: ExplainArgs, io: CliIO): Promise<Explainer> {
  let weights: string | Uint8Array | undefined = args.weights;
  if (!args.model && weights === undefined) {
    const bar = createProgress(io.stderr, io.isTTY ?? false, 'downloading ResNet34 weights', 'bytes');
    weights = await defaultResnet34WeightsFile({
      offline: args.offline,
      onProgress: (ev) => {
        if (ev.type === 'progress') bar.update(ev.loaded, ev.total);
        if (ev.type === 'done') bar.finish(`cached ${ev.path}`);
      },
    });
  }
  return createExplainer({ model: args.model ?? 'resnet34', weights, preprocess: args.preprocess, threads: args.threads });
}

export async function explainCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout(`${EXPLAIN_USAGE}\n`);
    return 0;
  }
  const explainer = await loadExplainer(args, io);
  try {
    const kernels = await loadKernels();
    const targetClass = args.target === undefined ? undefined : matchTarget(args.target, explainer);
    const results: Result[] = [];
    const bar = args.inputs.length > 1 ? createProgress(io.stderr, io.isTTY ?? false, 'explaining', 'items') : undefined;
    for (const [i, path] of args.inputs.entries()) {
      const start = performance.now();
      try {
        const r = await explainOne(path, args, targetClass, explainer, kernels, io);
        results.push(r);
        bar?.clear();
        if (!args.json) {
          const top = r.top5!.map((p) => `${p.label ?? p.index} ${(p.probability * 100).toFixed(1)}%`).join(', ');
          io.stdout(`${path}: explained class ${r.target!.index} (${r.target!.label ?? '?'}, p=${r.target!.probability.toFixed(3)}) -> ${r.outDir}/\n  top-5: ${top}\n`);
        }
      } catch (err) {
        // One bad file must not stop the batch; its reason is reported, the others are still written.
        const message = err instanceof GradcamError ? `${err.message} [${err.code}]` : (err as Error).message;
        if (args.inputs.length === 1) throw err;
        results.push({ input: path, ok: false, error: message, ms: performance.now() - start });
        bar?.clear();
        if (!args.json) io.stderr(`gradcam: ${path}: ${message}\n`);
      }
      bar?.update(i + 1, args.inputs.length);
    }
    bar?.finish();
    const failed = results.filter((r) => !r.ok);
    if (args.json) {
      io.stdout(`${JSON.stringify({ runtime: explainer.runtime, results }, null, 2)}\n`);
    } else if (results.length > 1) {
      io.stdout(`\n${summaryTable(results)}\n${results.length - failed.length} ok, ${failed.length} failed\n`);
    }
    return failed.length > 0 ? 1 : 0;
  } finally {
    explainer.dispose();
  }
}

function summaryTable(results: readonly Result[]): string {
  const rows = results.map((r) => [basename(r.input), r.ok ? 'ok' : 'FAILED', r.ok ? `${r.target!.label ?? r.target!.index}` : r.error!, r.ok ? r.target!.probability.toFixed(3) : '', `${Math.round(r.ms)} ms`]);
  const head = ['input', 'status', 'class / reason', 'p', 'time'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => Math.min(r[c]!.length, 60))));
  const line = (cells: string[]) => cells.map((cell, c) => cell.slice(0, 60).padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
