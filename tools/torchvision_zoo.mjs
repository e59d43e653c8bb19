// Checks our ONNX importer on the torchvision families that tools/torchvision_zoo.py exported (a dev tool: it needs
// the python side's output, so it is no test). Per family: createExplainer({ model: X.onnx }), then for 2 inputs x
// 2 targets x 2 layers the limits against pytorch-grad-cam:
// - logits within 1e-5 of max |logit|;
// - normalised maps mean |diff| <= 1e-4 and max <= 2e-3; raw maps relative L2 <= 1e-3;
// - guided relative L2 <= 2e-2 and Pearson r >= 0.999;
// - the float64 escape of test/graph/zoo.test.ts: a map that misses the mean or raw limit passes when it is no
//   further from float64 (cam64) than the reference's own worst over the family; one that misses the max limit
//   when it is no further from float64 at max than the reference's map of that case. The table tells both.
// - guided likewise: a case that misses passes when it is no further from the float64 guided pass (guided64)
//   than the reference's (per case, worst shown).
//
//   npm run build && node tools/torchvision_zoo.mjs [--out /tmp/tvzoo] [FAMILY ...]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createExplainer } from '../dist/index.js';
import { fmt, maxAbs, maxAbsDiff, meanAbsDiff, pearson, readNpy, relL2 } from './compare.mjs';

const { values: opts, positionals } = parseArgs({ options: { out: { type: 'string', default: '/tmp/tvzoo' } }, allowPositionals: true });
const manifest = JSON.parse(readFileSync(join(opts.out, 'manifest.json'), 'utf8'));
const TARGETS = ['top1', 'c281'];
/** Layers whose raw file was taken after an in-place ReLU (make_zoo.py's raw_gradcam): that ReLU's ONNX value. */
const IN_PLACE_RAW = { 'densenet121:features.norm5': '/Relu_output_0' };

async function checkFamily(arch, entry) {
  const refs = join(opts.out, 'refs', arch);
  const ref = (name) => readNpy(join(refs, `${name}.npy`));
  const explainer = await createExplainer({ model: join(opts.out, entry.file) });
  const row = { arch, size: entry.size, dynamicHW: entry.dynamic_hw, default: explainer.defaultLayers.join(','), pgcDefault: Object.keys(entry.layers).at(-1), cases: [] };
  try {
    const layers = Object.keys(entry.layers);
    const rawLayer = (l) => IN_PLACE_RAW[`${arch}:${l}`] ?? l;
    for (const [input, file] of Object.entries(entry.inputs)) {
      const npy = readNpy(join(opts.out, file));
      for (const t of TARGETS) {
        const target = t === 'top1' ? entry.top1[input] : 281;
        const started = performance.now();
        const e = await explainer.explain({ tensor: npy.data, shape: npy.shape }, { layers: [...new Set([...layers, ...layers.map(rawLayer)])], target, guided: true });
        const ms = performance.now() - started;
        const logits = ref(`${input}_${t}_logits`).data;
        const gb = ref(`${input}_${t}_guided`).data;
        const c = { input, t, ms, logits: maxAbsDiff(e.logits, logits) / maxAbs(logits), guided: relL2(e.guided, gb), guidedR: pearson(e.guided, gb), layers: {} };
        if (existsSync(join(refs, `${input}_${t}_guided64.npy`))) {
          const gb64 = ref(`${input}_${t}_guided64`).data;
          Object.assign(c, { guided64: relL2(e.guided, gb64), refGuided64: relL2(gb, gb64) });
        }
        for (const layer of layers) {
          const base = `${input}_${t}_${layer}`;
          const cam = ref(`${base}_cam`).data;
          const raw = ref(`${base}_raw`);
          const ours = e.cams[layer];
          const oursRaw = e.cams[rawLayer(layer)];
          const shapeOk = oursRaw.rawHeight === raw.shape[0] && oursRaw.rawWidth === raw.shape[1];
          const m = { mean: meanAbsDiff(ours.map, cam), max: maxAbsDiff(ours.map, cam), raw: shapeOk ? relL2(oursRaw.raw, raw.data) : Infinity };
          if (existsSync(join(refs, `${base}_cam64.npy`))) {
            const cam64 = ref(`${base}_cam64`).data;
            Object.assign(m, { mean64: meanAbsDiff(ours.map, cam64), max64: maxAbsDiff(ours.map, cam64), refMean64: meanAbsDiff(cam, cam64), refMax64: maxAbsDiff(cam, cam64) });
          }
          c.layers[layer] = m;
        }
        row.cases.push(c);
      }
    }
  } finally {
    explainer.dispose();
  }
  return verdict(row);
}

/** Worst values over the family's cases, and whether the limits hold (strictly, or with the float64 escape). */
function verdict(row) {
  const all = row.cases.flatMap((c) => Object.values(c.layers));
  const worst = (key, list = all) => Math.max(...list.map((m) => m[key] ?? 0));
  const refWorstMean64 = worst('refMean64');
  const strict = (m) => m.mean <= 1e-4 && m.max <= 2e-3 && m.raw <= 1e-3;
  const escaped = (m) =>
    (m.mean <= 1e-4 && m.raw <= 1e-3) || (m.mean64 !== undefined && m.mean64 <= refWorstMean64)
      ? m.max <= 2e-3 || (m.max64 !== undefined && m.max64 <= m.refMax64)
      : false;
  // Guided: the limits, or (a chaotic guided pass, e.g. GoogLeNet's, where two float32 runs of the
  // reference differ by 0.13) no further from the float64 guided pass than the reference is.
  const guidedOk = (c) => (c.guided <= 2e-2 && c.guidedR >= 0.999) || (c.guided64 !== undefined && c.guided64 <= c.refGuided64);
  const others = row.cases.every((c) => c.logits <= 1e-5 && guidedOk(c));
  const othersStrict = row.cases.every((c) => c.logits <= 1e-5 && c.guided <= 2e-2 && c.guidedR >= 0.999);
  return {
    ...row,
    worst: {
      logits: Math.max(...row.cases.map((c) => c.logits)),
      mean: worst('mean'), max: worst('max'), raw: worst('raw'),
      guided: Math.max(...row.cases.map((c) => c.guided)), guided1r: Math.max(...row.cases.map((c) => 1 - c.guidedR)),
      guided64: Math.max(...row.cases.map((c) => c.guided64 ?? NaN)), refGuided64: Math.max(...row.cases.map((c) => c.refGuided64 ?? NaN)),
      mean64: worst('mean64'), max64: worst('max64'), refMean64: refWorstMean64, refMax64: worst('refMax64'),
      ms: Math.min(...row.cases.map((c) => c.ms)),
    },
    pass: othersStrict && all.every(strict) ? 'yes' : others && all.every(escaped) ? 'yes (f64)' : 'NO',
  };
}

const rows = [];
for (const [arch, entry] of Object.entries(manifest.models)) {
  if (positionals.length && !positionals.includes(arch)) continue;
  if (entry.skipped || entry.error) {
    rows.push({ arch, pass: entry.skipped ? 'skipped' : 'export failed', note: entry.skipped ?? entry.error });
    continue;
  }
  try {
    rows.push(await checkFamily(arch, entry));
  } catch (e) {
    rows.push({ arch, pass: 'NO', note: `${e.code ?? e.name}: ${e.message}` });
  }
  const r = rows.at(-1);
  console.error(arch, r.pass, r.note ?? JSON.stringify(r.worst));
}
writeFileSync(join(opts.out, 'results.json'), JSON.stringify(rows, null, 1));

console.log('| family | input | logits | map mean | map max | raw relL2 | guided relL2 / 1-r | guided-f64 ours / ref | ours-f64 mean / max | ref-f64 mean / max | default layer (ours / pgc) | ms | pass |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  if (!r.worst) {
    console.log(`| ${r.arch} | | | | | | | | | | | | ${r.pass}: ${r.note.replaceAll('|', '\\|').slice(0, 160)} |`);
    continue;
  }
  const w = r.worst;
  const size = `${r.size}${r.dynamicHW ? '' : ' static'}`;
  console.log(`| ${r.arch} | ${size} | ${fmt(w.logits)} | ${fmt(w.mean)} | ${fmt(w.max)} | ${fmt(w.raw)} | ${fmt(w.guided)} / ${fmt(w.guided1r)} | ${fmt(w.guided64)} / ${fmt(w.refGuided64)} | ${fmt(w.mean64)} / ${fmt(w.max64)} | ${fmt(w.refMean64)} / ${fmt(w.refMax64)} | ${r.default} / ${r.pgcDefault} | ${Math.round(w.ms)} | ${r.pass} |`);
}
