import { InvalidInputError } from '../errors.js';
import { normalGenerator, type NormalGenerator } from './random.js';
import { conjugateGradients, DIRECTIONS, multigridPreconditioner, type GridMatrix } from './sparse-grid.js';

/**
 * ROAD's noisy linear imputation (pytorch-grad-cam's NoisyLinearImputer): every removed pixel becomes
 * the weighted mean of its 8 neighbours (1/6 for the direct ones, 1/12 for the diagonals; neighbours
 * outside the image are left out of the sum and of the weights), kept pixels entering as known values.
 * That is one sparse linear system over the removed pixels, solved per channel; then noise x N(0, 1) is
 * added to the imputed values.
 *
 * The system matrix is symmetric (opposite offsets have equal weights) and, with its sign flipped,
 * positive definite whenever some pixel is kept, so conjugate gradients with a multigrid
 * preconditioner solve it (sparse-grid.ts), one channel after the other with the same preconditioner.
 */

export interface ImputeOptions {
  /** Standard deviation of the noise added to imputed values; default 0.01 (pytorch-grad-cam's default). */
  readonly noise?: number;
  /** Source of the noise; default normalGenerator(0). */
  readonly random?: NormalGenerator;
  /** Stop when ||Ax - b|| / ||b|| <= tolerance in every channel; default 1e-6. */
  readonly tolerance?: number;
}

/** Weight of the neighbour at (dy, dx): pytorch-grad-cam's neighbors_weights. */
const weightOf = (dy: number, dx: number): number => (dy === 0 || dx === 0 ? 1 / 6 : 1 / 12);

/** The system over the removed pixels, M x = rhs, with M = -A of pytorch-grad-cam (symmetric positive definite). */
export interface ImputationSystem {
  readonly matrix: GridMatrix;
  /** One right-hand side per channel: rhs[c][k] = sum of weight x value over the kept neighbours of unknown k. */
  readonly rhs: readonly Float64Array[];
}

/** Builds the system for a CHW float32 image and a keep mask (1 kept, 0 removed). */
export function imputationSystem(image: Float32Array, channels: number, height: number, width: number, keep: Uint8Array): ImputationSystem {
  const plane = height * width;
  const unknownOf = new Int32Array(plane).fill(-1);
  let count = 0;
  for (let i = 0; i < plane; i++) if (!keep[i]) unknownOf[i] = count++;
  const cells = new Int32Array(count);
  const diagonal = new Float64Array(count);
  const neighbours = new Int32Array(count * 8).fill(-1);
  const offDiagonal = new Float64Array(count * 8);
  const rhs = Array.from({ length: channels }, () => new Float64Array(count));
  for (let i = 0, k = 0; i < plane; i++) {
    if (keep[i]) continue;
    cells[k] = i;
    const y = Math.floor(i / width);
    const x = i - y * width;
    // The diagonal is the sum of the weights of the neighbours inside the image, kept or not.
    let sum = 0;
    for (let d = 0; d < 8; d++) {
      const [dy, dx] = DIRECTIONS[d]!;
      const ny = y + dy;
      const nx = x + dx;
      if (ny < 0 || nx < 0 || ny >= height || nx >= width) continue;
      const w = weightOf(dy, dx);
      sum += w;
      const j = ny * width + nx;
      if (keep[j]) {
        for (let c = 0; c < channels; c++) rhs[c]![k]! += w * image[c * plane + j]!;
      } else {
        neighbours[k * 8 + d] = unknownOf[j]!;
        offDiagonal[k * 8 + d] = -w;
      }
    }
    diagonal[k] = sum;
    k++;
  }
  return { matrix: { height, width, cells, diagonal, neighbours, offDiagonal }, rhs };
}

/**
 * The imputed image: a copy of `image` (CHW float32) whose removed pixels (keep[i] = 0) hold the
 * solution of the system, rounded to float32, plus noise x N(0, 1).
 */
export function imputeLinear(image: Float32Array, shape: readonly [number, number, number], keep: Uint8Array, options: ImputeOptions = {}): Float32Array {
  const [channels, height, width] = shape;
  const { noise = 0.01, random = normalGenerator(0), tolerance = 1e-6 } = options;
  if (image.length !== channels * height * width) throw new InvalidInputError(`image has ${image.length} values, not ${channels}x${height}x${width}`);
  if (keep.length !== height * width) throw new InvalidInputError(`mask has ${keep.length} values, not ${height}x${width}`);
  if (!(noise >= 0) || !Number.isFinite(noise)) throw new InvalidInputError(`noise must be a finite number >= 0, got ${noise}`);
  const system = imputationSystem(image, channels, height, width, keep);
  const precondition = multigridPreconditioner(system.matrix);
  const out = Float32Array.from(image);
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    const { x } = conjugateGradients(system.matrix, system.rhs[c]!, tolerance, precondition);
    for (let k = 0; k < system.matrix.cells.length; k++) {
      const value = Math.fround(x[k]!);
      out[c * plane + system.matrix.cells[k]!] = noise > 0 ? Math.fround(value + Math.fround(noise * random.next())) : value;
    }
  }
  return out;
}
