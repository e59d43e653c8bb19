#!/usr/bin/env node
// AblationCAM (layer4, layer3) and ScoreCAM (layer4) on one 224x224 input, each in its own process (its own
// peak RSS); with --torch, pytorch-grad-cam's side by side (PGC=<pytorch-grad-cam checkout>, 2 threads).
//   node bench/methods.js [--json] [--torch] [--threads N]
// One timed call after a Grad-CAM warm-up: these calls take seconds to minutes. Never assertions.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    torch: { type: 'boolean', default: false },
    threads: { type: 'string' },
    one: { type: 'string' }, // internal: "method:layer", run in this process
  },
});
const weightsPath = process.env.GRADCAM_BENCH_WEIGHTS ?? resolve(here, '../../shared/reference/resnet34-seed1.safetensors');
if (!existsSync(weightsPath)) {
  console.error(`bench: weights not found at ${weightsPath}; set GRADCAM_BENCH_WEIGHTS`);
  process.exit(2);
}

if (opts.one) {
  const { createExplainer } = await import('../dist/index.js');
  const [method, layer] = opts.one.split(':');
  const size = 224;
  let seed = 1;
  const tensor = Float32Array.from({ length: 3 * size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2);
  const input = { tensor, shape: [1, 3, size, size] };
  const explainer = await createExplainer({ weights: weightsPath, threads: opts.threads ? Number(opts.threads) : undefined });
  await explainer.explain(input, { layers: [layer], target: 281 }); // warm-up
  const t = performance.now();
  await explainer.explain(input, { layers: [layer], target: 281, method });
  const ms = performance.now() - t;
  console.log(JSON.stringify({ ms: +ms.toFixed(1), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
  explainer.dispose();
  process.exit(0);
}

const run = (cmd, args) => {
  const child = spawnSync(cmd, args, { encoding: 'utf8', env: process.env });
  if (child.status !== 0) throw new Error(`bench: ${cmd} ${args.join(' ')} failed:\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1));
};
const result = {};
for (const [method, layer] of [['ablationcam', 'layer4'], ['ablationcam', 'layer3'], ['scorecam', 'layer4']]) {
  const key = `${method}_${layer}`;
  const extra = opts.threads ? ['--threads', opts.threads] : [];
  result[key] = run(process.execPath, [fileURLToPath(import.meta.url), '--one', `${method}:${layer}`, ...extra]);
  if (opts.torch) {
    result[key].pytorch = run('/usr/bin/python3', [join(here, 'pytorch_methods.py'), '--weights', weightsPath, '--method', method, '--layer', layer]);
    result[key].overPytorch = +(result[key].ms / result[key].pytorch.ms).toFixed(3);
  }
  // Each result as soon as it is known (the whole run takes minutes); on stderr with --json.
  (opts.json ? console.error : console.log)(`${key.padEnd(18)} ${JSON.stringify(result[key])}`);
}
if (opts.json) console.log(JSON.stringify(result));
