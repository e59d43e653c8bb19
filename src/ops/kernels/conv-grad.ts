import { tf, type Tensor4D } from '../../tf.js';
import { xnnpackConv, type Pads } from './gemm-conv.js';

/** A convolution's geometry: square kernel, symmetric padding, equal strides (all ResNet needs). */
export interface ConvGeometry {
  readonly kernel: number;
  readonly stride: number;
  readonly pad: number;
}

export const explicitPad = (p: number): Pads => [[0, 0], [p, p], [p, p], [0, 0]];

/**
 * For each output phase r = i mod stride of the input gradient, the forward taps that reach it sit
 * at offsets delta (dy index = i div stride + delta). The union of offsets over phases is the
 * kernel of one stride-1 convolution that computes all phases at once (sub-pixel convolution).
 */
function phaseTaps(g: ConvGeometry): { offsets: { r: number; delta: number; k: number }[]; minDelta: number; maxDelta: number; phases: number[] } {
  const offsets: { r: number; delta: number; k: number }[] = [];
  for (let r = 0; r < g.stride; r++) {
    const c = (r + g.pad) % g.stride;
    const d = (r + g.pad - c) / g.stride;
    for (let m = 0; g.stride * m + c < g.kernel; m++) offsets.push({ r, delta: d - m, k: g.stride * m + c });
  }
  const deltas = offsets.map((o) => o.delta);
  // Phases no tap reaches (a 1x1 stride-2 conv never reads odd rows) get no filter channels: their gradient
  // is 0, padded in afterwards. That needs the reached ones to be a contiguous run; otherwise keep them all.
  const reached = [...new Set(offsets.map((o) => o.r))];
  const phases = reached.at(-1)! - reached[0]! + 1 === reached.length ? reached : Array.from({ length: g.stride }, (_, r) => r);
  return { offsets, minDelta: Math.min(...deltas), maxDelta: Math.max(...deltas), phases };
}

/**
 * The filter that computes a convolution's input gradient as a FORWARD stride-1 convolution of
 * dy (so it runs on XNNPACK; tfjs-wasm's Conv2DBackpropInput is a naive loop). Output channel
 * (iy * P + ix) * Cin + ci holds the input phase (phases[iy], phases[ix]) of the P reached phases;
 * depth-to-space interleaves the phases.
 * For stride 1 this is the familiar spatially flipped, in/out-swapped kernel. Strided convs need
 * no zero-inserted dy, which would waste 3/4 of the multiplications.
 */
export function backwardFilter(filterHWIO: Tensor4D, g: ConvGeometry): Tensor4D {
  const [k, , cin, cout] = filterHWIO.shape;
  const w = filterHWIO.dataSync() as Float32Array;
  const { offsets, minDelta, maxDelta, phases } = phaseTaps(g);
  const span = maxDelta - minDelta + 1;
  const outCh = phases.length ** 2 * cin;
  const f = new Float32Array(span * span * cout * outCh);
  for (const ty of offsets) {
    for (const tx of offsets) {
      const phase = phases.indexOf(ty.r) * phases.length + phases.indexOf(tx.r);
      for (let co = 0; co < cout; co++) {
        for (let ci = 0; ci < cin; ci++) {
          const src = ((ty.k * k + tx.k) * cin + ci) * cout + co;
          const dst = (((ty.delta - minDelta) * span + (tx.delta - minDelta)) * cout + co) * outCh + phase * cin + ci;
          f[dst] = w[src]!;
        }
      }
    }
  }
  return tf.tensor4d(f, [span, span, cout, outCh]);
}

/** d(loss)/d(input) of a convolution from d(loss)/d(output); inH/inW are the forward input's size. */
export function convInputGrad(dy: Tensor4D, backFilter: Tensor4D, g: ConvGeometry, inH: number, inW: number): Tensor4D {
  return tf.tidy(() => {
    const { minDelta, maxDelta, phases: reached } = phaseTaps(g);
    const s = g.stride;
    const [, oh, ow] = dy.shape;
    if (s === 1) {
      // Same pads at every input size, so XNNPACK's cached operator (one per filter AND padding) is reused;
      // padding inside the conv saves a PadV2 per call.
      const pads: Pads = [[0, 0], [-minDelta, inH - oh + maxDelta], [-minDelta, inW - ow + maxDelta], [0, 0]];
      if (pads[1].every((v) => v >= 0) && pads[2].every((v) => v >= 0)) return xnnpackConv(dy, backFilter, 1, pads);
    }
    const qh = Math.ceil(inH / s);
    const qw = Math.ceil(inW / s);
    // Output q reads dy[q + minDelta .. q + maxDelta]: pad (or crop) dy so exactly q outputs come out.
    const fit = (x: Tensor4D, axis: 1 | 2, q: number, o: number): Tensor4D => {
      const before = -minDelta;
      const after = q - 1 + maxDelta - (o - 1);
      if (before < 0 || after < 0) {
        const begin = [0, 0, 0, 0];
        const size = [-1, -1, -1, -1];
        begin[axis] = Math.max(-before, 0);
        size[axis] = o - Math.max(-before, 0) - Math.max(-after, 0);
        x = tf.slice(x, begin, size);
      }
      if (before <= 0 && after <= 0) return x;
      const pads: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]];
      pads[axis] = [Math.max(before, 0), Math.max(after, 0)];
      return tf.pad(x, pads);
    };
    const padded = fit(fit(dy, 1, qh, oh), 2, qw, ow);
    let phases = xnnpackConv(padded, backFilter, 1, explicitPad(0));
    if (s === 1) return phases;
    const [n, ph, pw, ch] = phases.shape;
    const cin = ch / reached.length ** 2;
    if (reached.length < s) {
      const first = reached[0]!;
      const grid = tf.reshape(phases, [n * ph * pw, reached.length, reached.length, cin]);
      const around: [number, number] = [first, s - first - reached.length];
      phases = tf.reshape(tf.pad(grid, [[0, 0], around, around, [0, 0]]), [n, ph, pw, s * s * cin]);
    }
    // Interleave the phases (depth-to-space) as reshape + 4-D transpose: tfjs-wasm's DepthToSpace is
    // about 10x slower than this on these sizes.
    const rows = tf.transpose(tf.reshape(phases, [n * ph, pw, s, s * cin]), [0, 2, 1, 3]);
    const full = tf.reshape(rows, [n, ph * s, pw * s, cin]) as Tensor4D;
    return full.shape[1] === inH && full.shape[2] === inW ? full : tf.slice(full, [0, 0, 0, 0], [-1, inH, inW, -1]);
  });
}
