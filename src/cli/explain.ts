import { basename } from 'node:path';
import { UsageError } from './errors.js';
import type { CliIO } from './main.js';
import { createProgress } from './progress.js';
import { loadExplainer, loadInput, matchTarget, MODEL_OPTIONS, MODEL_USAGE, parseCommandLine, parseList, parseModelArgs, type ModelArgs } from './model-args.js';
import type { Explainer, Explanation } from '../explainer.js';
import type { ModelInput, Pixels } from '../image/preprocess.js';
import { CAM_METHODS, type CamMethodName } from '../methods/index.js';
import { encodeNpy } from '../io/npy.js';
import { GradcamError, LayerNotFoundError } from '../errors.js';
import { checkInputs, outputFolders, prepareOutDir, writeFolder } from './output.js';
import { removeOnSignal } from './interrupt.js';
import { loadKernels } from '../runtime/index.js';
import type { Kernels } from '../kernels/types.js';
import { encodePng } from '../image/encode.js';
import { explanationFigure, explanationPictures } from '../image/pictures.js';
import { topK, type Prediction } from '../predictions.js';

/** --batch's default: see bench/run.js --batch (README). */
const DEFAULT_BATCH = 4;
const MAX_BATCH = 64;

/** Items grouped by key, groups in order of first appearance. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return [...groups.values()];
}

export const EXPLAIN_USAGE = `  gradcam explain <input...> [options]
      <input>             PNG/JPEG image(s), or .npy float32 tensors [1,3,H,W] / [3,H,W] (already normalised)
      --out DIR           output folder (default: gradcam-out); each input writes into DIR/<input name>/
                          (DIR/<name>-2/ ... for inputs with the same name)
      --layers LIST       comma-separated target layers (default: layer1..layer4 for ResNet34, the last
                          spatial layer otherwise)
      --score S           logit (default) or softmax (the gradient of the class's probability)
      --method NAME       ${Object.keys(CAM_METHODS).join(', ')} (default: gradcam);
                          fullgrad has no target layer: it writes cam-fullgrad.npy and ignores --layers
      --eigen-smooth      first principal component of the weighted activations instead of their sum
      --aug-smooth        mean map over horizontal flip x input scale 0.9, 1, 1.1 (six passes)
      --no-guided         skip guided backpropagation and Guided Grad-CAM
      --batch N           explain inputs of the same size (after resizing) N at a time, in one forward
                          and gradient pass (default: ${DEFAULT_BATCH}; 1 for one at a time)
      --raw               also write NumPy .npy arrays (logits, maps, guided gradients)
      --json              print machine-readable results on stdout
${MODEL_USAGE}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  out: { type: 'string', default: 'gradcam-out' },
  layers: { type: 'string' },
  method: { type: 'string', default: 'gradcam' },
  score: { type: 'string', default: 'logit' },
  'eigen-smooth': { type: 'boolean', default: false },
  'aug-smooth': { type: 'boolean', default: false },
  guided: { type: 'boolean', default: true },
  'no-guided': { type: 'boolean', default: false },
  batch: { type: 'string', default: String(DEFAULT_BATCH) },
  raw: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

interface ExplainArgs extends ModelArgs {
  readonly inputs: string[];
  readonly out: string;
  readonly layers: string[] | undefined;
  readonly score: 'logit' | 'softmax';
  readonly method: CamMethodName;
  readonly eigenSmooth: boolean;
  readonly augSmooth: boolean;
  readonly guided: boolean;
  readonly batch: number;
  readonly raw: boolean;
  readonly json: boolean;
}

function parse(argv: readonly string[]): ExplainArgs | 'help' {
  const { values: v, positionals } = parseCommandLine(argv, OPTIONS);
  if (v.help) return 'help';
  if (positionals.length === 0) throw new UsageError('explain needs at least one input file');
  const modelArgs = parseModelArgs(v);
  const method = v.method as CamMethodName;
  if (!Object.hasOwn(CAM_METHODS, method)) throw new UsageError(`unknown --method '${method}'; available: ${Object.keys(CAM_METHODS).join(', ')}`);
  if (v.score !== 'logit' && v.score !== 'softmax') throw new UsageError(`--score must be logit or softmax, got '${v.score}'`);
  const batch = Number(v.batch);
  if (!/^\d+$/.test(v.batch) || batch < 1 || batch > MAX_BATCH) throw new UsageError(`--batch must be a whole number from 1 to ${MAX_BATCH}, got '${v.batch}'`);
  return {
    ...modelArgs,
    inputs: positionals,
    out: v.out,
    layers: parseList(v.layers, 'layers'),
    score: v.score,
    method,
    eigenSmooth: v['eigen-smooth'],
    augSmooth: v['aug-smooth'],
    guided: v.guided && !v['no-guided'],
    batch,
    raw: v.raw,
    json: v.json,
  };
}

/**
 * Each layer's name as it appears in file names: characters outside [A-Za-z0-9._-] become '_'
 * ('/features/norm5/BatchNormalization_output_0' -> '_features_norm5_BatchNormalization_output_0'); a name
 * that would repeat another's gets a '-2', '-3', ... suffix.
 */
export function layerFileNames(layers: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const layer of layers) {
    const safe = layer.replace(/[^A-Za-z0-9._-]/g, '_');
    let name = safe;
    for (let n = 2; taken.has(name); n++) name = `${safe}-${n}`;
    taken.add(name);
    names.set(layer, name);
  }
  return names;
}

function rawArrays(e: Explanation, names: Map<string, string>): [string, Uint8Array][] {
  const files: [string, Uint8Array][] = [['logits.npy', encodeNpy(e.logits, [e.logits.length])]];
  for (const [layer, cam] of Object.entries(e.cams)) {
    files.push([`cam-${names.get(layer)}.npy`, encodeNpy(cam.map, [e.height, e.width])]);
    files.push([`cam-${names.get(layer)}-raw.npy`, encodeNpy(cam.raw, [cam.rawHeight, cam.rawWidth])]);
  }
  if (e.guided) {
    files.push(['guided.npy', encodeNpy(e.guided, [e.height, e.width, 3])]);
    for (const [layer, g] of Object.entries(e.guidedGradCam ?? {})) files.push([`guided-gradcam-${names.get(layer)}.npy`, encodeNpy(g, [e.height, e.width, 3])]);
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

/** An input loaded and resized for the model, waiting for its batch. */
interface Loaded {
  readonly index: number;
  readonly path: string;
  readonly start: number;
  readonly input: ModelInput;
  readonly image?: Pixels;
  readonly modelImage?: Pixels;
}

/** The size an input reaches the model at (inputs of one size share a batch). */
const sizeKey = ({ input }: Loaded): string => ('tensor' in input ? input.shape.slice(-2).join('x') : `${input.height}x${input.width}`);

/** Explains inputs of one size in one explainBatch call. */
async function explainGroup(group: readonly Loaded[], args: ExplainArgs, targetClass: number | undefined, explainer: Explainer, io: CliIO): Promise<Explanation[]> {
  // The seed's figure: all four stages for ResNet34; the model's default layer otherwise.
  const layers = args.layers ?? (args.model ? undefined : ['layer1', 'layer2', 'layer3', 'layer4']);
  // Methods that rerun the network and aug-smooth take a while: a bar with ETA on a terminal.
  const long = CAM_METHODS[args.method].reruns === true || args.augSmooth;
  const bar = long && io.isTTY ? createProgress(io.stderr, true, `${args.method}${args.augSmooth ? ' (aug-smooth)' : ''}`, 'items') : undefined;
  const explanations = await explainer.explainBatch(
    group.map((g) => g.input),
    {
      layers,
      target: { class: targetClass, score: args.score },
      guided: args.guided,
      method: args.method,
      eigenSmooth: args.eigenSmooth,
      augSmooth: args.augSmooth,
      onProgress: bar && ((p) => bar.update(p.done, p.total)),
    },
  );
  bar?.finish();
  return explanations;
}

/** Writes one input's pictures (and arrays) into its folder. */
async function writeOne(item: Loaded, e: Explanation, dir: string, args: ExplainArgs, explainer: Explainer, kernels: Kernels, ms: number, partial: Set<string>): Promise<Result> {
  const ranked = topK(e.logits, e.logits.length, explainer.labels);
  const target = ranked.find((p) => p.index === e.target)!;
  const names = layerFileNames(Object.keys(e.cams));
  const drawn = explanationPictures(kernels, e, item.image, names);
  const files: [string, Uint8Array][] = await Promise.all([...drawn].map(async ([name, px]) => [name, await encodePng(px)] as [string, Uint8Array]));
  files.push(['figure.png', await explanationFigure(kernels, e, drawn, item.modelImage, target, names)]);
  if (args.raw) files.push(...rawArrays(e, names));
  await writeFolder(dir, files, partial);
  return { input: item.path, ok: true, outDir: dir, target, top5: ranked.slice(0, 5), files: files.map(([n]) => n), ms };
}

const failure = (path: string, err: unknown, start: number): Result => ({
  input: path,
  ok: false,
  error: err instanceof GradcamError ? `${err.message} [${err.code}]` : (err as Error).message,
  ms: performance.now() - start,
});

export async function explainCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout(`${EXPLAIN_USAGE}\n`);
    return 0;
  }
  // Everything that can be checked without the model is checked before it loads.
  await checkInputs(args.inputs);
  await prepareOutDir(args.out);
  const { dirs, notes } = outputFolders(args.inputs, args.out);
  for (const note of notes) io.stderr(`gradcam: note: ${note}\n`);
  const explainer = await loadExplainer(args, io);
  // Ctrl-C or kill: the folder being written is removed, so that only complete results are left.
  const partial = new Set<string>();
  const release = removeOnSignal(partial, io.stderr);
  try {
    for (const layer of args.layers ?? []) if (!explainer.hasLayer(layer)) throw new LayerNotFoundError(layer, explainer.layers);
    const kernels = await loadKernels();
    const targetClass = args.target === undefined ? undefined : matchTarget(args.target, explainer);
    const results: Result[] = [];
    const bar = args.inputs.length > 1 ? createProgress(io.stderr, io.isTTY ?? false, 'explaining', 'items') : undefined;
    const report = (r: Result) => {
      results.push(r);
      bar?.clear();
      if (args.json) return;
      if (!r.ok) io.stderr(`gradcam: ${r.input}: ${r.error}\n`);
      else {
        const top = r.top5!.map((p) => `${p.label ?? p.index} ${(p.probability * 100).toFixed(1)}%`).join(', ');
        io.stdout(`${r.input}: explained class ${r.target!.index} (${r.target!.label ?? '?'}, p=${r.target!.probability.toFixed(3)}) -> ${r.outDir}/\n  top-5: ${top}\n`);
      }
    };
    // Inputs are loaded args.batch at a time; those of one size are explained together. One bad file must not
    // stop the others: its reason is reported, the others are still written (a single input's error is thrown).
    for (let from = 0; from < args.inputs.length; from += args.batch) {
      const loaded: Loaded[] = [];
      const done = new Map<number, Result>();
      for (const [k, path] of args.inputs.slice(from, from + args.batch).entries()) {
        const start = performance.now();
        try {
          loaded.push({ index: from + k, path, start, ...(await loadInput(path, args)) });
        } catch (err) {
          if (args.inputs.length === 1) throw err;
          done.set(from + k, failure(path, err, start));
        }
      }
      for (const group of groupBy(loaded, sizeKey)) {
        const start = performance.now();
        let explanations: Explanation[] | undefined;
        try {
          explanations = await explainGroup(group, args, targetClass, explainer, io);
        } catch (err) {
          if (args.inputs.length === 1) throw err;
          // A batch that fails is retried one input at a time below, so that each failure names its own input.
          if (group.length === 1) done.set(group[0]!.index, failure(group[0]!.path, err, group[0]!.start));
        }
        // Each input's time: its load, its share of the batch, and its own pictures.
        const share = (performance.now() - start) / group.length;
        for (const [k, item] of group.entries()) {
          if (done.has(item.index)) continue;
          const begin = performance.now();
          try {
            const e = explanations?.[k] ?? (await explainGroup([item], args, targetClass, explainer, io))[0]!;
            const ms = start - item.start + (explanations ? share : 0) + performance.now() - begin;
            done.set(item.index, await writeOne(item, e, dirs[item.index]!, args, explainer, kernels, ms, partial));
          } catch (err) {
            if (args.inputs.length === 1) throw err;
            done.set(item.index, failure(item.path, err, item.start));
          }
        }
      }
      for (let i = from; i < Math.min(from + args.batch, args.inputs.length); i++) {
        report(done.get(i)!);
        bar?.update(i + 1, args.inputs.length);
      }
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
    release();
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
