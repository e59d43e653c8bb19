// Comparison metrics, in plain JS so that the tests (on src/) and the dev tools (plain Node on dist/,
// tools/compare.mjs) share one implementation; the types are in metrics.d.ts.

/** @typedef {ArrayLike<number>} Arr */

/** @param {Arr} a @param {Arr} b */
function check(a, b) {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
}

/** @param {Arr} a @param {Arr} b */
export function maxAbsDiff(a, b) {
  check(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** @param {Arr} a @param {Arr} b */
export function meanAbsDiff(a, b) {
  check(a, b);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** @param {Arr} a */
export function maxAbs(a) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** ||a - ref|| / ||ref||. @param {Arr} a @param {Arr} ref */
export function relL2(a, ref) {
  check(a, ref);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** @param {Arr} a @param {Arr} b */
export function pearson(a, b) {
  check(a, b);
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

/** The index of the first largest value. @param {Arr} a */
export function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Element-wise product of a map [P] with an HWC array [P,3], as float32. @param {Arr} hwc @param {Arr} map */
export function timesMap(hwc, map) {
  const out = new Float32Array(hwc.length);
  for (let i = 0; i < hwc.length; i++) out[i] = hwc[i] * map[Math.floor(i / 3)];
  return out;
}
