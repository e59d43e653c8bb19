import type { CamMethod, WholeModelArrays } from './types.js';
import type { Kernels } from '../kernels/types.js';

/**
 * FullGrad (Srinivas & Fleuret 2019, https://arxiv.org/abs/1905.00780) as pytorch-grad-cam computes it:
 * |x * dS/dx| per input channel, plus for every bias b (conv biases, BatchNorm shifts) |b * dS/d(output)|
 * per channel, each channel min-max scaled and resized to the input, all summed, then min-max scaled.
 * Resizing is linear, so each bias's channels are summed at their own resolution and resized once.
 */
export const fullGrad: CamMethod = {
  name: 'fullgrad',
  needsGradients: true,
  wholeModel({ input, inputGradient, width, height, biases }: WholeModelArrays, kernels: Kernels) {
    const total = scaledChannelSum(input.map((x, i) => Math.abs(x * inputGradient[i]!)), width * height, 3);
    for (const { bias, grad, width: w, height: h } of biases) {
      const C = bias.length;
      const sum = scaledChannelSum(grad.map((g, i) => Math.abs(bias[i % C]! * g)), w * h, C);
      const up = w === width && h === height ? sum : kernels.resizeBilinear(sum, h, w, height, width, 1);
      for (let i = 0; i < total.length; i++) total[i]! += up[i]!;
    }
    return kernels.minMaxNormalize(total);
  },
};

/** sum_c of each channel of T [P, C] min-max scaled ((t - min) / (1e-7 + max)), float32. */
function scaledChannelSum(T: Float32Array, P: number, C: number): Float32Array {
  const min = new Float32Array(C).fill(Infinity);
  const max = new Float32Array(C).fill(-Infinity);
  for (let p = 0; p < P; p++) {
    for (let c = 0; c < C; c++) {
      const t = T[p * C + c]!;
      if (t < min[c]!) min[c] = t;
      if (t > max[c]!) max[c] = t;
    }
  }
  const scale = max.map((m, c) => 1e-7 + Math.fround(m - min[c]!));
  const out = new Float32Array(P);
  for (let p = 0; p < P; p++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.fround(Math.fround(T[p * C + c]! - min[c]!) / scale[c]!);
    out[p] = s;
  }
  return out;
}
