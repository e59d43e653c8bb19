type Arr = ArrayLike<number>;

function check(a: Arr, b: Arr): void {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
}

export function maxAbsDiff(a: Arr, b: Arr): number {
  check(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function meanAbsDiff(a: Arr, b: Arr): number {
  check(a, b);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

export function maxAbs(a: Arr): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** ||a - ref|| / ||ref||. */
export function relL2(a: Arr, ref: Arr): number {
  check(a, ref);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - ref[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

export function pearson(a: Arr, b: Arr): number {
  check(a, b);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

export function argmax(a: Arr): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** Element-wise product of a map [P] with an HWC array [P,3], as float32. */
export function timesMap(hwc: Arr, map: Arr): Float32Array {
  const out = new Float32Array(hwc.length);
  for (let i = 0; i < hwc.length; i++) out[i] = hwc[i]! * map[Math.floor(i / 3)]!;
  return out;
}
