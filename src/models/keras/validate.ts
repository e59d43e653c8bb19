import { GradcamError, WeightsError } from '../../errors.js';
import type { KerasLayerSpec } from './loader.js';

/** A layer output's shape without the batch dimension; null for a size not known before the input is. */
type Shape = readonly (number | null)[];

const posInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const fail = (layer: string, message: string) => new WeightsError(`layer '${layer}': ${message}`);
const unsupported = (layer: string, message: string) => new GradcamError('UNSUPPORTED', `layer ${layer}: ${message}`);

/**
 * Checks a parsed layers model before any tensor exists: every layer's configuration, the shape of
 * every weight it uses (against its configuration and the shape reaching it), the shapes along the
 * graph (Add, Reshape, Dense), and BatchNorm variances. A malformed model gives a WeightsError naming
 * the layer or weight; a well-formed one the engine cannot run gives UNSUPPORTED. The engine itself
 * then never meets a shape it would hand to a kernel unchecked.
 */
export function validateKerasArtifacts(layers: readonly KerasLayerSpec[], weights: ReadonlyMap<string, { readonly data: Float32Array; readonly shape: readonly number[] }>): void {
  const declared = layers.map((l) => l.config.batch_input_shape).find((s) => s !== undefined && s !== null);
  const input = inputShape(declared, layers.find((l) => l.config.batch_input_shape === declared)?.name ?? layers[0]!.name);
  const shapes = new Map<string, Shape>();
  for (const spec of layers) {
    const ins = spec.inbound.length === 0 ? [input] : spec.inbound.map((n) => shapes.get(n)!);
    const weight = (suffix: string, expected: readonly (number | null)[]): Float32Array => {
      const key = `${spec.name}/${suffix}`;
      const w = weights.get(key);
      if (!w) throw fail(spec.name, `weight '${key}' is missing from the weights manifest`);
      if (w.shape.length !== expected.length || expected.some((d, i) => d !== null && d !== w.shape[i])) {
        throw new WeightsError(`shape [${w.shape.join(', ')}] does not fit layer '${spec.name}', which needs [${expected.map((d) => d ?? '?').join(', ')}]`, key);
      }
      return w.data;
    };
    shapes.set(spec.name, outputShape(spec, ins, weight, (suffix) => weights.has(`${spec.name}/${suffix}`)));
  }
}

function inputShape(declared: unknown, layer: string): Shape {
  if (declared === undefined) return [null, null, 3];
  if (!Array.isArray(declared) || declared.length !== 4 || !declared.slice(1, 3).every((d) => d === null || posInt(d))) {
    throw fail(layer, `batch_input_shape ${JSON.stringify(declared)} is not [batch, height, width, channels] with positive sizes`);
  }
  if (declared[3] !== 3 && declared[3] !== null) throw unsupported(layer, `the input has ${declared[3]} channels; only RGB (3) is supported`);
  return [declared[1] as number | null, declared[2] as number | null, 3];
}

/** Two positive integers from a Keras size option (a number or a pair). */
function pair(spec: KerasLayerSpec, key: string, fallback: number): [number, number] {
  const v = spec.config[key] ?? fallback;
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every(posInt)) throw fail(spec.name, `${key} ${JSON.stringify(v)} is not a positive integer or a pair of them`);
  return p as [number, number];
}

function spatial3(spec: KerasLayerSpec, x: Shape): readonly [number | null, number | null, number | null] {
  if (x.length !== 3) throw unsupported(spec.name, `${spec.className} needs a [height, width, channels] input, got [${x.map((d) => d ?? '?').join(', ')}]`);
  return x as [number | null, number | null, number | null];
}

const convOut = (n: number | null, k: number, s: number, same: boolean, layer: string): number | null => {
  if (n === null) return null;
  const out = same ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
  if (out < 1) throw fail(layer, `a ${k}x${k} window does not fit its ${n}-pixel input`);
  return out;
};

function outputShape(spec: KerasLayerSpec, ins: Shape[], weight: (suffix: string, expected: readonly (number | null)[]) => Float32Array, hasWeight: (suffix: string) => boolean): Shape {
  const [x] = ins as [Shape];
  const bool = (key: string, fallback: boolean) => (spec.config[key] ?? fallback) === true;
  if (spec.className !== 'Add' && ins.length !== 1) throw fail(spec.name, `${spec.className} takes one input, got ${ins.length}`);
  switch (spec.className) {
    case 'InputLayer':
    case 'Dropout':
    case 'Activation':
    case 'ReLU':
      return x;
    case 'BatchNormalization': {
      const c = x.at(-1)!;
      if (bool('scale', true)) weight('gamma', [c]);
      if (bool('center', true)) weight('beta', [c]);
      weight('moving_mean', [c]);
      const variance = weight('moving_variance', [c]);
      const negative = variance.findIndex((v) => v < 0);
      if (negative >= 0) throw new WeightsError(`negative variance ${variance[negative]} at index ${negative}`, `${spec.name}/moving_variance`);
      const eps = spec.config.epsilon ?? 1e-3;
      if (typeof eps !== 'number' || !(eps >= 0)) throw fail(spec.name, `epsilon ${JSON.stringify(eps)} is not a non-negative number`);
      return x;
    }
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      const [h, w, c] = spatial3(spec, x);
      const depthwise = spec.className === 'DepthwiseConv2D';
      const [kh, kw] = pair(spec, 'kernel_size', 0);
      const [sh, sw] = pair(spec, 'strides', 1);
      pair(spec, 'dilation_rate', 1);
      const padding = spec.config.padding ?? 'valid';
      if (padding !== 'same' && padding !== 'valid') throw unsupported(spec.name, `padding '${String(padding)}' is not supported`);
      let out: number;
      if (depthwise) {
        const dm = spec.config.depth_multiplier ?? 1;
        if (!posInt(dm)) throw fail(spec.name, `depth_multiplier ${JSON.stringify(dm)} is not a positive integer`);
        weight('depthwise_kernel', [kh, kw, c!, dm]);
        out = c! * dm;
      } else {
        const filters = spec.config.filters;
        if (!posInt(filters)) throw fail(spec.name, `filters ${JSON.stringify(filters)} is not a positive integer`);
        weight('kernel', [kh, kw, c!, filters]);
        out = filters;
      }
      if (bool('use_bias', true)) weight(depthwise && !hasWeight('bias') ? 'depthwise_bias' : 'bias', [out]);
      return [convOut(h!, kh, sh, padding === 'same', spec.name), convOut(w!, kw, sw, padding === 'same', spec.name), out];
    }
    case 'GlobalAveragePooling2D': {
      const [, , c] = spatial3(spec, x);
      return bool('keepdims', false) ? [1, 1, c!] : [c!];
    }
    case 'Add': {
      if (ins.length < 2) throw fail(spec.name, `Add needs at least two inputs, got ${ins.length}`);
      const known = (s: Shape) => s.map((d) => d ?? '?').join(', ');
      if (ins.some((s) => s.length !== x.length || s.some((d, i) => d !== null && x[i] !== null && d !== x[i]))) {
        throw fail(spec.name, `its inputs have different shapes: ${ins.map((s) => `[${known(s)}]`).join(', ')}`);
      }
      return x;
    }
    case 'ZeroPadding2D': {
      const [h, w, c] = spatial3(spec, x);
      const p = spec.config.padding ?? 1;
      const rows = typeof p === 'number' ? [[p, p], [p, p]] : Array.isArray(p) && Array.isArray(p[0]) ? p : Array.isArray(p) ? [[p[0], p[0]], [p[1], p[1]]] : undefined;
      const flat = (rows as unknown[][] | undefined)?.flat();
      if (!rows || rows.length !== 2 || flat!.length !== 4 || !flat!.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) {
        throw fail(spec.name, `padding ${JSON.stringify(p)} is not a non-negative integer, a pair or two pairs`);
      }
      const [[t, b], [l, r]] = rows as [[number, number], [number, number]];
      return [h === null ? null : h + t + b, w === null ? null : w + l + r, c!];
    }
    case 'Flatten':
      return [x.every((d) => d !== null) ? (x as number[]).reduce((a, b) => a * b, 1) : null];
    case 'Reshape': {
      const target = spec.config.target_shape;
      if (!Array.isArray(target) || target.length === 0 || !target.every((d) => posInt(d) || d === -1) || target.filter((d) => d === -1).length > 1) {
        throw fail(spec.name, `target_shape ${JSON.stringify(target)} is not a list of positive sizes (one may be -1)`);
      }
      const size = x.every((d) => d !== null) ? (x as number[]).reduce((a, b) => a * b, 1) : null;
      const fixed = (target as number[]).filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      if (size !== null && (target.includes(-1) ? size % fixed !== 0 : size !== fixed)) {
        throw fail(spec.name, `cannot reshape [${x.join(', ')}] (${size} values) to [${target.join(', ')}]`);
      }
      return (target as number[]).map((d) => (d === -1 ? (size === null ? null : size / fixed) : d));
    }
    case 'Dense': {
      if (x.length !== 1) throw unsupported(spec.name, `Dense after a [${x.map((d) => d ?? '?').join(', ')}] output is not supported (flatten or pool first)`);
      const units = spec.config.units;
      if (!posInt(units)) throw fail(spec.name, `units ${JSON.stringify(units)} is not a positive integer`);
      weight('kernel', [x[0]!, units]);
      if (bool('use_bias', true)) weight('bias', [units]);
      return [units];
    }
    default:
      throw unsupported(spec.name, `layer type ${spec.className} is not supported`);
  }
}
