// `npm run bench -- --model X.onnx [--layers a,b] [--torch [--torch-arch NAME --torch-seed N]]`: one
// explanation of an ONNX model (the given layers, e.g. a middle one and the last one, plus guided
// backpropagation) and peak RSS; with --torch, pytorch-grad-cam's time for the same model and layers, paired.
// A model from ../shared/reference/zoo/models/ gets its layers, architecture and seed from the zoo's manifest.
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExplainer } from '../dist/index.js';
import { pairedWithTorch } from './torch-pair.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** The zoo manifest's entry for a model in <zoo>/models/, with the zoo's seed; undefined elsewhere. */
function zooEntry(model) {
  const manifest = join(dirname(model), '..', 'manifest.json');
  if (!existsSync(manifest)) return undefined;
  const json = JSON.parse(readFileSync(manifest, 'utf8'));
  const arch = basename(model, '.onnx');
  return json.models?.[arch] ? { arch, seed: json.seed, layers: Object.keys(json.models[arch].layers) } : undefined;
}

export async function benchOnnxModel({ opts, runs, input, time }) {
  const model = resolve(opts.model);
  const zoo = zooEntry(model);
  const layers = opts.layers?.split(',') ?? zoo?.layers;
  if (!layers) throw new Error('bench: give --layers for a model outside the zoo');
  const result = { model: basename(model), layers: layers.join(','), input: '224x224' };
  const explainer = await createExplainer({ model, threads: opts.threads ? Number(opts.threads) : undefined });
  const explanation = () => explainer.explain(input, { layers, guided: true });
  result.machine = { cpus: (await import('node:os')).cpus().length, node: process.version, simd: explainer.runtime.simd, threads: explainer.runtime.threads };
  result.forwardMs = await time(() => explainer.predict(input));
  result.explanationMs = await time(explanation);
  result.peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  if (opts.torch) {
    const arch = opts['torch-arch'] ?? zoo?.arch;
    const seed = opts['torch-seed'] ?? zoo?.seed;
    if (arch === undefined || seed === undefined) throw new Error('bench: --torch needs --torch-arch and --torch-seed for a model outside the zoo');
    const script = join(here, 'zoo_pytorch.py');
    const args = ['--torch-arch', arch, '--torch-seed', String(seed), '--layers', layers.join(',')];
    const paired = await pairedWithTorch(script, args, explanation, Math.max(runs, 11));
    result.pairedMs = paired.oursMs;
    result.pairedPytorchMs = paired.torchMs;
    result.pairedOverPytorch = paired.ratio;
    const py = spawnSync('/usr/bin/python3', [script, ...args, '--runs', String(runs)], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`bench: pytorch-grad-cam run failed:\n${py.stderr}`);
    result.pytorch = JSON.parse(py.stdout.trim().split('\n').at(-1));
  }
  explainer.dispose();
  return result;
}
