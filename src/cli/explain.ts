import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { UsageError } from './errors.js';
import type { CliIO } from './main.js';
import { createProgress } from './progress.js';
import { integer, MODEL_OPTIONS, parseModelArgs, resizeForModel, resnet34Weights, type ModelArgs } from './model-options.js';
import { createExplainer, type Explainer, type Explanation } from '../explainer.js';
import { CAM_METHODS, type CamMethodName } from '../methods/index.js';
import { decodeNpy, encodeNpy } from '../io/npy.js';
import { readBytes } from '../runtime/io.js';
import { decodeImage, DEFAULT_MAX_IMAGE_PIXELS } from '../image/decode.js';
import type { ModelInput, Pixels } from '../image/preprocess.js';
import { GradcamError, InvalidInputError } from '../errors.js';
import { loadKernels } from '../runtime/index.js';
import type { Kernels } from '../kernels/types.js';
import { encodePng } from '../image/encode.js';
import { explanationFigure, explanationPictures } from '../image/pictures.js';
import { topK, type Prediction } from '../predictions.js';

export const EXPLAIN_USAGE = `  gradcam explain <input...> [options]
      <input>             PNG/JPEG image(s), or .npy float32 tensors [1,3,H,W] / [3,H,W] (already normalised)
      --out DIR           output folder (default: gradcam-out); each input writes into DIR/<input name>/
      --weights FILE|URL  ResNet34 safetensors (torchvision/timm names); default: torchvision's ImageNet
                          weights (timm/resnet34.tv_in1k), downloaded once into the cache
      --model FILE|URL    a TF.js layers model.json instead of ResNet34 (e.g. MobileNet)
      --preprocess P      imagenet (mean/std; ResNet34 default) or tf (x/127.5 - 1; --model default)
      --layers LIST       comma-separated target layers (default: layer1..layer4 for ResNet34, the last
                          spatial layer otherwise)
      --target N          class index to explain (default: the top-1 class)
      --method NAME       ${Object.keys(CAM_METHODS).join(', ')} (default: gradcam)
      --no-guided         skip guided backpropagation and Guided Grad-CAM
      --size S            model input: 224 (default, 224x224), native, or N (shorter side N)
      --raw               also write NumPy .npy arrays (logits, maps, guided gradients)
      --json              print machine-readable results on stdout
      --offline           never download; use the cache or --weights
      --max-pixels N      refuse larger images before decoding (default ${DEFAULT_MAX_IMAGE_PIXELS})
      --threads N         convolution threads, 1..8 (default: all cores)
      --verbose           stack traces on errors`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  out: { type: 'string', default: 'gradcam-out' },
  layers: { type: 'string' },
  target: { type: 'string' },
  method: { type: 'string', default: 'gradcam' },
  guided: { type: 'boolean', default: true },
  'no-guided': { type: 'boolean', default: false },
  raw: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface ExplainArgs extends ModelArgs {
  readonly inputs: string[];
  readonly out: string;
  readonly layers: string[] | undefined;
  readonly target: number | undefined;
  readonly method: CamMethodName;
  readonly guided: boolean;
  readonly raw: boolean;
  readonly json: boolean;
}

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
  const method = v.method as CamMethodName;
  if (!Object.hasOwn(CAM_METHODS, method)) throw new UsageError(`unknown --method '${method}'; available: ${Object.keys(CAM_METHODS).join(', ')}`);
  const layers = v.layers?.split(',').map((s) => s.trim()).filter(Boolean);
  if (layers && layers.length === 0) throw new UsageError('--layers is empty');
  return {
    ...parseModelArgs(v),
    inputs: positionals,
    out: v.out,
    layers,
    target: v.target === undefined ? undefined : integer('target', v.target, 0),
    method,
    guided: v.guided && !v['no-guided'],
    raw: v.raw,
    json: v.json,
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

async function explainOne(path: string, args: ExplainArgs, explainer: Explainer, kernels: Kernels): Promise<Result> {
  const start = performance.now();
  const { input, image, modelImage } = await loadInput(path, args);
  // The seed's figure: all four stages for ResNet34; the model's default layer otherwise.
  const layers = args.layers ?? (args.model ? undefined : ['layer1', 'layer2', 'layer3', 'layer4']);
  const e = await explainer.explain(input, { layers, target: args.target, guided: args.guided, method: args.method });
  const ranked = topK(e.logits, e.logits.length, explainer.labels);
  const target = ranked.find((p) => p.index === e.target)!;
  const dir = join(args.out, basename(path, extname(path)));
  await mkdir(dir, { recursive: true });
  const drawn = explanationPictures(kernels, e, image);
  const files: [string, Uint8Array][] = await Promise.all([...drawn].map(async ([name, px]) => [name, await encodePng(px)] as [string, Uint8Array]));
  files.push(['figure.png', await explanationFigure(kernels, e, drawn, modelImage, target)]);
  if (args.raw) files.push(...rawArrays(e));
  await Promise.all(files.map(([name, bytes]) => writeFile(join(dir, name), bytes)));
  return { input: path, ok: true, outDir: dir, target, top5: ranked.slice(0, 5), files: files.map(([n]) => n), ms: performance.now() - start };
}

async function loadExplainer(args: ExplainArgs, io: CliIO): Promise<Explainer> {
  const weights = await resnet34Weights(args, io);
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
    const results: Result[] = [];
    const bar = args.inputs.length > 1 ? createProgress(io.stderr, io.isTTY ?? false, 'explaining', 'items') : undefined;
    for (const [i, path] of args.inputs.entries()) {
      const start = performance.now();
      try {
        const r = await explainOne(path, args, explainer, kernels);
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
