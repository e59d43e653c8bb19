/** Symmetric matrices (float64, row-major n x n) get at most this many squarings before power iteration. */
const SQUARINGS = 4;
const MAX_ITERATIONS = 1000;

/**
 * The unit eigenvector of the largest (algebraic) eigenvalue of a symmetric matrix: power iteration on
 * (S + shift I)^16, the shift (a Gershgorin bound) making every eigenvalue non-negative, the powers by
 * repeated squaring so that close eigenvalues still separate. Its sign is arbitrary (callers fix it).
 */
export function topEigenvector(S: Float64Array, n: number): Float64Array {
  let shift = 0;
  for (let i = 0; i < n; i++) {
    let radius = 0;
    for (let j = 0; j < n; j++) if (j !== i) radius += Math.abs(S[i * n + j]!);
    shift = Math.max(shift, radius - S[i * n + i]!);
  }
  let M: Float64Array = Float64Array.from(S);
  for (let i = 0; i < n; i++) M[i * n + i]! += shift;
  for (let s = 0; s < SQUARINGS; s++) M = scaledSquare(M, n);
  // Not the uniform vector: centred kernels and Gram matrices have it in their null space.
  let v: Float64Array = Float64Array.from({ length: n }, (_, i) => 1 + 0.5 * Math.sin(1 + i * 2.399963));
  for (let it = 0; it < MAX_ITERATIONS; it++) {
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += M[i * n + j]! * v[j]!;
      next[i] = sum;
    }
    const norm = Math.sqrt(next.reduce((sum, x) => sum + x * x, 0));
    if (norm === 0) return v;
    let delta = 0;
    for (let i = 0; i < n; i++) {
      next[i]! /= norm;
      delta = Math.max(delta, Math.abs(next[i]! - v[i]!));
    }
    v = next;
    if (delta < 1e-11) break;
  }
  return v;
}

/** M^2 / max|M^2| (symmetric M). */
function scaledSquare(M: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += M[i * n + k]! * M[j * n + k]!;
      out[i * n + j] = out[j * n + i] = sum;
      max = Math.max(max, Math.abs(sum));
    }
  }
  return max > 0 ? out.map((x) => x / max) : out;
}

/**
 * pytorch-grad-cam's get_2d_projection of one layer's terms T [P, C]: the columns centred, projected on
 * their first right singular vector (the top eigenvector of the smaller Gram matrix). A singular vector's
 * sign is arbitrary: NumPy's SVD (LAPACK) picks one by no rule we could find (half of random matrices
 * either way for every simple rule tried), so we make the projection's largest-magnitude value positive
 * (scikit-learn's svd_flip rule): after the ReLU the map keeps its strongest peak. (The positive and
 * negative masses are always equal: the columns are centred.)
 */
export function principalProjection(T: Float32Array, P: number, C: number): Float32Array {
  const M = centredColumns(T, P, C);
  const proj = new Float64Array(P);
  if (P <= C) {
    // M M^T u = s^2 u and M v = s u: the projection is u up to its positive scale s.
    const G = new Float64Array(P * P);
    for (let i = 0; i < P; i++) {
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let c = 0; c < C; c++) dot += M[i * C + c]! * M[j * C + c]!;
        G[i * P + j] = G[j * P + i] = dot;
      }
    }
    proj.set(topEigenvector(G, P));
  } else {
    const G = new Float64Array(C * C);
    for (let p = 0; p < P; p++) {
      for (let a = 0; a < C; a++) {
        const x = M[p * C + a]!;
        if (x !== 0) for (let b = 0; b <= a; b++) G[a * C + b]! += x * M[p * C + b]!;
      }
    }
    for (let a = 0; a < C; a++) for (let b = 0; b < a; b++) G[b * C + a] = G[a * C + b]!;
    const v = topEigenvector(G, C);
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) proj[p]! += M[p * C + c]! * v[c]!;
  }
  let peak = 0;
  for (let p = 1; p < P; p++) if (Math.abs(proj[p]!) > Math.abs(proj[peak]!)) peak = p;
  return Float32Array.from(proj[peak]! < 0 ? proj.map((x) => -x) : proj);
}

/** [P, C] in float64 with each column's mean subtracted. */
export function centredColumns(A: Float32Array, P: number, C: number): Float64Array {
  const X = Float64Array.from(A);
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let p = 0; p < P; p++) mean += X[p * C + c]!;
    mean /= P;
    for (let p = 0; p < P; p++) X[p * C + c]! -= mean;
  }
  return X;
}
