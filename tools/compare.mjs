// What the tools' parity checks share (tools/torchvision_zoo.mjs, tools/resnet34_onnx.mjs): .npy reading and the
// comparison metrics of test/helpers/metrics.ts, for scripts that run on dist/ outside vitest.
import { readFileSync } from 'node:fs';
import { decodeNpy } from '../dist/index.js';

/** A .npy file's values and shape. */
export const readNpy = (path) => decodeNpy(new Uint8Array(readFileSync(path)));

export function maxAbsDiff(a, b) {
  sameLength(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function meanAbsDiff(a, b) {
  sameLength(a, b);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

export function maxAbs(a) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** ||a - ref|| / ||ref||; an all-zero reference compares absolutely (max |a|). */
export function relL2(a, ref) {
  sameLength(a, ref);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return den === 0 ? maxAbs(a) : Math.sqrt(num / den);
}

export function pearson(a, b) {
  sameLength(a, b);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

export const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

function sameLength(a, b) {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
}

/** A number for a results table. */
export const fmt = (v) => (v === undefined || Number.isNaN(v) ? '-' : v === 0 ? '0' : Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toFixed(4) : v.toExponential(1));
