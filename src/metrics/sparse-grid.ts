/**
 * Symmetric positive definite systems on a grid with a 3x3 stencil (the imputation system and its
 * coarsened copies), a multigrid preconditioner for them, and preconditioned conjugate gradients.
 */

/** A matrix over some cells of a height x width grid; each unknown couples only with its 8 neighbours. */
export interface GridMatrix {
  readonly height: number;
  readonly width: number;
  /** The cell (y * width + x) of each unknown. */
  readonly cells: Int32Array;
  readonly diagonal: Float64Array;
  /** neighbours[8k + d]: the unknown at direction d of unknown k, or -1. */
  readonly neighbours: Int32Array;
  /** offDiagonal[8k + d]: the matrix entry (k, neighbours[8k + d]). */
  readonly offDiagonal: Float64Array;
}

/** The 8 directions as [dy, dx]; direction d and 7 - d are opposite. */
export const DIRECTIONS: readonly (readonly [number, number])[] = [
  [-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1],
];
const directionOf = (dy: number, dx: number): number => DIRECTIONS.findIndex(([y, x]) => y === dy && x === dx);

/** out = A v. */
export function multiply(a: GridMatrix, v: Float64Array, out: Float64Array): void {
  const { diagonal, neighbours, offDiagonal } = a;
  const n = diagonal.length;
  for (let k = 0; k < n; k++) {
    let s = diagonal[k]! * v[k]!;
    for (let e = 8 * k; e < 8 * k + 8; e++) {
      const j = neighbours[e]!;
      if (j >= 0) s += offDiagonal[e]! * v[j]!;
    }
    out[k] = s;
  }
}

/** One Gauss-Seidel sweep on A x = b, forwards or backwards through the unknowns. */
function gaussSeidel(a: GridMatrix, b: Float64Array, x: Float64Array, backwards: boolean): void {
  const { diagonal, neighbours, offDiagonal } = a;
  const n = diagonal.length;
  for (let i = 0; i < n; i++) {
    const k = backwards ? n - 1 - i : i;
    let s = b[k]!;
    for (let e = 8 * k; e < 8 * k + 8; e++) {
      const j = neighbours[e]!;
      if (j >= 0) s -= offDiagonal[e]! * x[j]!;
    }
    x[k] = s / diagonal[k]!;
  }
}

/** The Galerkin coarsening P^T A P with P the 2x2-block aggregation (piecewise constant interpolation). */
function coarsen(a: GridMatrix): { coarse: GridMatrix; aggregate: Int32Array } {
  const height = (a.height + 1) >> 1;
  const width = (a.width + 1) >> 1;
  const unknownOf = new Int32Array(height * width).fill(-1);
  const n = a.cells.length;
  const aggregate = new Int32Array(n);
  const cells: number[] = [];
  for (let k = 0; k < n; k++) {
    const y = Math.floor(a.cells[k]! / a.width);
    const x = a.cells[k]! - y * a.width;
    const cell = (y >> 1) * width + (x >> 1);
    if (unknownOf[cell] === -1) unknownOf[cell] = cells.push(cell) - 1;
    aggregate[k] = unknownOf[cell]!;
  }
  const m = cells.length;
  const diagonal = new Float64Array(m);
  const neighbours = new Int32Array(m * 8).fill(-1);
  const offDiagonal = new Float64Array(m * 8);
  for (let k = 0; k < n; k++) {
    const ck = aggregate[k]!;
    diagonal[ck]! += a.diagonal[k]!;
    for (let e = 8 * k; e < 8 * k + 8; e++) {
      const j = a.neighbours[e]!;
      if (j < 0) continue;
      const cj = aggregate[j]!;
      if (cj === ck) {
        diagonal[ck]! += a.offDiagonal[e]!;
        continue;
      }
      const d = directionOf(Math.floor(cells[cj]! / width) - Math.floor(cells[ck]! / width), (cells[cj]! % width) - (cells[ck]! % width));
      neighbours[8 * ck + d] = cj;
      offDiagonal[8 * ck + d]! += a.offDiagonal[e]!;
    }
  }
  return { coarse: { height, width, cells: Int32Array.from(cells), diagonal, neighbours, offDiagonal }, aggregate };
}

/** Dense Cholesky factor (lower, row-major) of a small grid matrix; undefined if it is not positive definite. */
function cholesky(a: GridMatrix): Float64Array | undefined {
  const n = a.diagonal.length;
  const l = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    l[k * n + k] = a.diagonal[k]!;
    for (let e = 8 * k; e < 8 * k + 8; e++) if (a.neighbours[e]! >= 0) l[k * n + a.neighbours[e]!] = a.offDiagonal[e]!;
  }
  for (let j = 0; j < n; j++) {
    let d = l[j * n + j]!;
    for (let p = 0; p < j; p++) d -= l[j * n + p]! ** 2;
    if (!(d > 0)) return undefined;
    const s = Math.sqrt(d);
    l[j * n + j] = s;
    for (let i = j + 1; i < n; i++) {
      let v = l[i * n + j]!;
      for (let p = 0; p < j; p++) v -= l[i * n + p]! * l[j * n + p]!;
      l[i * n + j] = v / s;
    }
  }
  return l;
}

function choleskySolve(l: Float64Array, n: number, b: Float64Array, x: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let v = b[i]!;
    for (let p = 0; p < i; p++) v -= l[i * n + p]! * x[p]!;
    x[i] = v / l[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let v = x[i]!;
    for (let p = i + 1; p < n; p++) v -= l[p * n + i]! * x[p]!;
    x[i] = v / l[i * n + i]!;
  }
}

const COARSEST = 64;
/**
 * Piecewise-constant interpolation makes the coarse correction too small; scaling it up (measured on
 * ROAD's systems: 30 conjugate-gradient iterations at 1, 14 at 1.5, 12 at 1.8-1.9, 13 at 2) restores
 * most of a multigrid's speed. Below 2 the preconditioner stays positive definite.
 */
const OVER_CORRECTION = 1.8;

/**
 * A symmetric V-cycle (forward Gauss-Seidel before, backward after the coarse correction; 2x2
 * aggregation down to <= 64 unknowns, solved there by Cholesky; over-corrected): z = B r with B symmetric positive
 * definite, so it preconditions conjugate gradients.
 */
export function multigridPreconditioner(a: GridMatrix): (r: Float64Array, z: Float64Array) => void {
  const levels: { a: GridMatrix; aggregate?: Int32Array; r: Float64Array; x: Float64Array; t: Float64Array }[] = [];
  let current = a;
  for (;;) {
    const n = current.diagonal.length;
    const level = { a: current, r: new Float64Array(n), x: new Float64Array(n), t: new Float64Array(n) };
    if (n <= COARSEST) {
      levels.push(level);
      break;
    }
    const { coarse, aggregate } = coarsen(current);
    levels.push({ ...level, aggregate });
    current = coarse;
  }
  const coarsest = levels[levels.length - 1]!;
  const factor = cholesky(coarsest.a);

  const cycle = (l: number): void => {
    const { a: m, r, x, t, aggregate } = levels[l]!;
    if (!aggregate) {
      if (factor) choleskySolve(factor, m.diagonal.length, r, x);
      else {
        x.fill(0);
        for (let s = 0; s < 20; s++) gaussSeidel(m, r, x, s % 2 === 1);
      }
      return;
    }
    x.fill(0);
    gaussSeidel(m, r, x, false);
    multiply(m, x, t);
    const next = levels[l + 1]!;
    next.r.fill(0);
    for (let k = 0; k < aggregate.length; k++) next.r[aggregate[k]!]! += r[k]! - t[k]!;
    cycle(l + 1);
    for (let k = 0; k < aggregate.length; k++) x[k]! += OVER_CORRECTION * next.x[aggregate[k]!]!;
    gaussSeidel(m, r, x, true);
  };

  return (r, z) => {
    levels[0]!.r.set(r);
    cycle(0);
    z.set(levels[0]!.x);
  };
}

/**
 * Conjugate gradients on A x = b, preconditioned by `precondition`, until ||b - A x|| <= tolerance x
 * ||b||. b = 0 gives x = 0. Returns the solution and the iteration count.
 */
export function conjugateGradients(
  a: GridMatrix,
  b: Float64Array,
  tolerance: number,
  precondition: (r: Float64Array, z: Float64Array) => void,
): { x: Float64Array; iterations: number } {
  const len = b.length;
  const x = new Float64Array(len);
  const r = Float64Array.from(b);
  const z = new Float64Array(len);
  const q = new Float64Array(len);
  const limit = dot(b, b) * tolerance * tolerance;
  let rr = dot(r, r);
  if (rr === 0) return { x, iterations: 0 };
  precondition(r, z);
  const p = Float64Array.from(z);
  let rz = dot(r, z);
  let iterations = 0;
  // Far more than the preconditioned solve needs; reaching it means the system is not positive definite.
  while (rr > limit && iterations < 1000) {
    multiply(a, p, q);
    const alpha = rz / dot(p, q);
    for (let i = 0; i < len; i++) {
      x[i]! += alpha * p[i]!;
      r[i]! -= alpha * q[i]!;
    }
    rr = dot(r, r);
    precondition(r, z);
    const next = dot(r, z);
    const beta = next / rz;
    rz = next;
    for (let i = 0; i < len; i++) p[i] = z[i]! + beta * p[i]!;
    iterations++;
  }
  return { x, iterations };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

