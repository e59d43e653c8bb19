import { UsageError } from './errors.js';
import type { CliIO } from './main.js';
import { createProgress } from './progress.js';
import { integer, loadExplainer, loadInput, matchTarget, MODEL_OPTIONS, MODEL_USAGE, parseCommandLine, parseList, parseModelArgs, type ModelArgs } from './model-args.js';
import { CAM_METHODS, type CamMethodName } from '../methods/index.js';
import type { NchwTensor } from '../image/preprocess.js';
import { evaluateMap, pixelsToTensor, type MapMetrics, type ScoreKind } from '../metrics/index.js';

export const EVALUATE_USAGE = `  gradcam evaluate <input> [options]
      How faithful each method's map is (pytorch-grad-cam's metrics): a table of ROAD combined
      (higher is better), ROAD MoRF / LeRF, the drop in confidence (lower is better) and whether the
      confidence increases when the input is multiplied by the map, and the time to compute the map.
      <input>             a PNG/JPEG image, or a .npy float32 tensor [1,3,H,W] / [3,H,W] (already normalised)
      --methods LIST      comma-separated methods (default: all of ${Object.keys(CAM_METHODS).join(', ')})
      --layers LIST       comma-separated target layers, one row per method and layer (default: the last layer)
      --score S           logit (default) or softmax: what the metrics measure for the target class
      --noise X           ROAD imputation noise, standard deviation on the normalised input (default 0.01)
      --seed N            seed of that noise (default 0)
      --morf-percentile P ROAD MoRF removes the pixels at or above this percentile of the map (default 80)
      --lerf-percentile P ROAD LeRF, the same on 1 - map (default 20)
      --json              print only JSON on stdout: { "results": [ { "method", "layer", "target",
                          "metrics": { confidenceChange, dropInConfidence, increaseInConfidence,
                          roadMorf, roadLerf, roadCombined }, "ms" } ] } (ms: time to compute the map)
${MODEL_USAGE}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  methods: { type: 'string' },
  layers: { type: 'string' },
  score: { type: 'string', default: 'logit' },
  noise: { type: 'string', default: '0.01' },
  seed: { type: 'string', default: '0' },
  'morf-percentile': { type: 'string', default: '80' },
  'lerf-percentile': { type: 'string', default: '20' },
  json: { type: 'boolean', default: false },
} as const;

interface EvaluateArgs extends ModelArgs {
  readonly input: string;
  readonly methods: CamMethodName[];
  readonly layers: string[] | undefined;
  readonly score: ScoreKind;
  readonly noise: number;
  readonly seed: number;
  readonly morfPercentile: number;
  readonly lerfPercentile: number;
  readonly json: boolean;
}

const number = (flag: string, value: string, min: number, max: number): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${flag} must be a number from ${min} to ${max}, got '${value}'`);
  return n;
};

function parse(argv: readonly string[]): EvaluateArgs | 'help' {
  const { values: v, positionals } = parseCommandLine(argv, OPTIONS);
  if (v.help) return 'help';
  if (positionals.length !== 1) throw new UsageError(`evaluate takes one input file, got ${positionals.length}`);
  const methods = (parseList(v.methods, 'methods') ?? Object.keys(CAM_METHODS)) as CamMethodName[];
  for (const m of methods) if (!Object.hasOwn(CAM_METHODS, m)) throw new UsageError(`unknown method '${m}' in --methods; available: ${Object.keys(CAM_METHODS).join(', ')}`);
  if (v.score !== 'logit' && v.score !== 'softmax') throw new UsageError(`--score must be logit or softmax, got '${v.score}'`);
  return {
    ...parseModelArgs(v),
    input: positionals[0]!,
    methods: [...new Set(methods)],
    layers: parseList(v.layers, 'layers'),
    score: v.score,
    noise: number('noise', v.noise, 0, 1e6),
    seed: integer('seed', v.seed, 0),
    morfPercentile: number('morf-percentile', v['morf-percentile'], 0, 100),
    lerfPercentile: number('lerf-percentile', v['lerf-percentile'], 0, 100),
    json: v.json,
  };
}

interface Row {
  readonly method: string;
  readonly layer: string;
  readonly target: number;
  readonly metrics: MapMetrics;
  readonly ms: number;
}

export async function evaluateCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout(`${EVALUATE_USAGE}\n`);
    return 0;
  }
  const explainer = await loadExplainer(args, io);
  try {
    const { input, modelImage } = await loadInput(args.input, args);
    // The metrics perturb the normalised input, so an image is normalised here as the explainer does it.
    const tensor: NchwTensor = modelImage ? pixelsToTensor(modelImage, args.preprocess) : (input as NchwTensor);
    const targetClass = args.target === undefined ? undefined : matchTarget(args.target, explainer);
    const layers = args.layers ?? explainer.defaultLayers;
    const jobs = args.methods.flatMap((method) => layers.map((layer) => ({ method, layer })));
    const bar = createProgress(io.stderr, io.isTTY ?? false, 'evaluating: model passes', 'items');
    const rows: Row[] = [];
    for (const [i, { method, layer }] of jobs.entries()) {
      const start = performance.now();
      const e = await explainer.explain(input, { layers: [layer], method, target: { class: targetClass, score: args.score } });
      const ms = performance.now() - start;
      const metrics = await evaluateMap(explainer, tensor, e.cams[layer]?.map ?? e.combined, {
        target: e.target,
        score: args.score,
        noise: args.noise,
        seed: args.seed,
        morfPercentile: args.morfPercentile,
        lerfPercentile: args.lerfPercentile,
        // Every map takes the same number of passes; without a terminal, one line per map.
        onProgress: ({ done, total }) => {
          if (io.isTTY || done === total) bar.update(i * total + done, jobs.length * total);
        },
      });
      rows.push({ method, layer, target: e.target!, metrics, ms: Math.round(ms) });
    }
    bar.finish();
    if (args.json) io.stdout(`${JSON.stringify({ results: rows }, null, 2)}\n`);
    else io.stdout(`${header(args, rows[0]?.target, explainer.labels)}\n${table(rows, args)}\n`);
    return 0;
  } finally {
    explainer.dispose();
  }
}

function header(args: EvaluateArgs, target: number | undefined, labels: readonly string[] | undefined): string {
  const name = target === undefined ? '' : ` (${labels?.[target] ?? `class ${target}`})`;
  return `${args.input}: class ${target}${name}, score ${args.score}, ROAD noise ${args.noise} (seed ${args.seed})`;
}

function table(rows: readonly Row[], args: EvaluateArgs): string {
  const head = ['method', 'layer', 'ROAD combined', `MoRF ${args.morfPercentile}`, `LeRF ${args.lerfPercentile}`, 'drop in conf.', 'increase', 'time'];
  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(2) : v.toPrecision(4));
  const cells = rows.map((r) => [
    r.method,
    r.layer,
    fmt(r.metrics.roadCombined),
    fmt(r.metrics.roadMorf),
    fmt(r.metrics.roadLerf),
    fmt(r.metrics.dropInConfidence),
    r.metrics.increaseInConfidence ? 'yes' : 'no',
    `${r.ms} ms`,
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c]!.length)));
  const line = (cs: string[]) => cs.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
