import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { UsageError } from './errors.js';
import type { CliIO } from './main.js';
import { createExplainer, type Explainer, type Explanation } from '../explainer.js';
import { CAM_METHODS, type CamMethodName } from '../methods/index.js';
import { decodeNpy, encodeNpy } from '../io/npy.js';
import { readBytes } from '../runtime/io.js';
import { decodeImage } from '../image/decode.js';
import { resizeRgbPillowBilinear } from '../image/resize.js';
import type { ModelInput, Pixels } from '../image/preprocess.js';
import { InvalidInputError } from '../errors.js';
import { loadKernels } from '../runtime/index.js';
import type { Kernels } from '../kernels/types.js';
import { renderGuided, renderHeatmap, renderOverlay } from '../image/render.js';
import { encodePng } from '../image/encode.js';

export const EXPLAIN_USAGE = `  gradcam explain <input...> --weights FILE --out DIR [options]
      <input>           PNG/JPEG image, or .npy float32 tensor [1,3,H,W] / [3,H,W] (already normalised)
      --weights FILE    ResNet34 safetensors (torchvision/timm names), path or URL
      --out DIR         output folder; each input writes into DIR/<input name>/
      --layers LIST     comma-separated target layers (default: layer1,layer2,layer3,layer4)
      --target N        class index to explain (default: the top-1 class)
      --method NAME     ${Object.keys(CAM_METHODS).join(', ')} (default: gradcam)
      --guided          also guided backpropagation and Guided Grad-CAM
      --size S          image model input: 224 (default), 'native', or N (shorter side N)
      --raw             write NumPy .npy arrays (logits, maps, guided gradients)
      --threads N       convolution threads, 1..8 (default: all cores)
      --verbose         stack traces on errors`;

const OPTIONS = {
  weights: { type: 'string' },
  out: { type: 'string' },
  layers: { type: 'string' },
  target: { type: 'string' },
  method: { type: 'string' },
  guided: { type: 'boolean', default: false },
  size: { type: 'string', default: '224' },
  raw: { type: 'boolean', default: false },
  threads: { type: 'string' },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface ExplainArgs {
  readonly inputs: string[];
  readonly weights: string;
  readonly out: string;
  readonly layers: string[];
  readonly target: number | undefined;
  readonly method: CamMethodName;
  readonly guided: boolean;
  readonly size: number | 'native' | 'square224';
  readonly raw: boolean;
  readonly threads: number | undefined;
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
  if (!v.weights) throw new UsageError('--weights FILE is required');
  if (!v.out) throw new UsageError('--out DIR is required');
  let target: number | undefined;
  if (v.target !== undefined) {
    target = Number(v.target);
    if (!/^\d+$/.test(v.target)) throw new UsageError(`--target must be a non-negative integer, got '${v.target}'`);
  }
  const method = (v.method ?? 'gradcam') as CamMethodName;
  if (!Object.hasOwn(CAM_METHODS, method)) throw new UsageError(`unknown --method '${method}'; available: ${Object.keys(CAM_METHODS).join(', ')}`);
  let size: ExplainArgs['size'];
  if (v.size === '224') size = 'square224';
  else if (v.size === 'native') size = 'native';
  else if (/^\d+$/.test(v.size) && Number(v.size) >= 32) size = Number(v.size);
  else throw new UsageError(`--size must be 224, 'native' or an integer >= 32, got '${v.size}'`);
  let threads: number | undefined;
  if (v.threads !== undefined) {
    threads = Number(v.threads);
    if (!/^[1-8]$/.test(v.threads)) throw new UsageError(`--threads must be an integer from 1 to 8, got '${v.threads}'`);
  }
  const layers = (v.layers ?? 'layer1,layer2,layer3,layer4').split(',').map((s) => s.trim()).filter(Boolean);
  if (layers.length === 0) throw new UsageError('--layers is empty');
  return { inputs: positionals, weights: v.weights, out: v.out, layers, target, method, guided: v.guided, size, raw: v.raw, threads };
}

/** The model input for a file (a .npy tensor as is, an image decoded and resized) and the original image, if any. */
async function loadInput(path: string, size: ExplainArgs['size']): Promise<{ input: ModelInput; image?: Pixels }> {
  const bytes = await readBytes(path, 'input');
  if (extname(path).toLowerCase() === '.npy') {
    const npy = decodeNpy(bytes);
    if (npy.dtype !== 'float32') throw new InvalidInputError(`${path}: .npy input must be float32, got ${npy.dtype}`);
    return { input: { tensor: npy.data as Float32Array, shape: npy.shape } };
  }
  const image = await decodeImage(bytes);
  return { input: resizeForModel(image, size), image };
}

function resizeForModel(px: Pixels, size: ExplainArgs['size']): Pixels {
  if (size === 'native') return px;
  if (size === 'square224') return resizeRgbPillowBilinear(px, 224, 224);
  const scale = size / Math.min(px.width, px.height);
  return resizeRgbPillowBilinear(px, Math.max(1, Math.round(px.width * scale)), Math.max(1, Math.round(px.height * scale)));
}

function pictures(kernels: Kernels, e: Explanation, image: Pixels | undefined): [string, Pixels][] {
  const out: [string, Pixels][] = [];
  for (const [layer, cam] of Object.entries(e.cams)) {
    if (image) out.push([`gradcam-${layer}.png`, renderOverlay(kernels, image, cam.map, e.width, e.height)]);
    out.push([`heatmap-${layer}.png`, renderHeatmap(kernels, cam.map, e.width, e.height)]);
  }
  if (e.guided) {
    out.push(['guided-backprop.png', renderGuided(e.guided, e.width, e.height)]);
    for (const [layer, g] of Object.entries(e.guidedGradCam ?? {})) out.push([`guided-gradcam-${layer}.png`, renderGuided(g, e.width, e.height)]);
  }
  return out;
}

async function writePictures(dir: string, list: [string, Pixels][]): Promise<string[]> {
  await Promise.all(list.map(async ([name, px]) => writeFile(join(dir, name), await encodePng(px))));
  return list.map(([name]) => name);
}

async function writeRaw(dir: string, e: Explanation): Promise<string[]> {
  const files: [string, Uint8Array][] = [['logits.npy', encodeNpy(e.logits, [e.logits.length])]];
  for (const [layer, cam] of Object.entries(e.cams)) {
    files.push([`cam-${layer}.npy`, encodeNpy(cam.map, [e.height, e.width])]);
    files.push([`cam-${layer}-raw.npy`, encodeNpy(cam.raw, [cam.rawHeight, cam.rawWidth])]);
  }
  if (e.guided) {
    files.push(['guided.npy', encodeNpy(e.guided, [e.height, e.width, 3])]);
    for (const [layer, g] of Object.entries(e.guidedGradCam ?? {})) files.push([`guided-gradcam-${layer}.npy`, encodeNpy(g, [e.height, e.width, 3])]);
  }
  await Promise.all(files.map(([name, bytes]) => writeFile(join(dir, name), bytes)));
  return files.map(([name]) => name);
}

export async function explainCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout(`${EXPLAIN_USAGE}\n`);
    return 0;
  }
  let explainer: Explainer | undefined;
  try {
    explainer = await createExplainer({ model: 'resnet34', weights: args.weights, threads: args.threads });
    const kernels = await loadKernels();
    for (const path of args.inputs) {
      const { input, image } = await loadInput(path, args.size);
      const e = await explainer.explain(input, { layers: args.layers, target: args.target, guided: args.guided, method: args.method });
      const dir = join(args.out, basename(path, extname(path)));
      await mkdir(dir, { recursive: true });
      const written = await writePictures(dir, pictures(kernels, e, image));
      if (args.raw) written.push(...(await writeRaw(dir, e)));
      io.stdout(`${path}: class ${e.target} (logit ${e.logits[e.target]!.toFixed(3)}), ${written.length} files in ${dir}\n`);
    }
    return 0;
  } finally {
    explainer?.dispose();
  }
}
