import { tf, type Tensor2D } from '../tf.js';
import type { CamMethod } from './types.js';

/** Ablated copies of the layer per rerun of the network above it. */
const BATCH = 32;
const ABLATION_OFFSET = 1e7;

/**
 * AblationCAM (Desai & Ramaswamy 2020), ratio_channels_to_ablate 1.0: w_c = (s - s_c) / s, s the target's
 * score and s_c its score with channel c of the layer ablated. Only the network above the layer reruns
 * (model.logitsFrom), on batches of ablated copies. Ablated channels are set to 0 where the layer's minimum
 * is 0 (after a ReLU), else to min - 1e7 (pytorch-grad-cam lowers that value further for each copy of a
 * batch, an artefact of its in-place writes we do not reproduce).
 */
export const ablationCam: CamMethod = {
  name: 'ablationcam',
  needsGradients: false,
  reruns: true,
  async channelWeights({ activations }, _kernels, ctx) {
    const [, h, w, channels] = ctx.activation.shape;
    const original = ctx.scores(ctx.logits)[0]!;
    const min = activations.reduce((m, a) => Math.min(m, a), Infinity);
    const value = min === 0 ? 0 : min - ABLATION_OFFSET;
    const weights = new Float32Array(channels);
    for (let start = 0; start < channels; start += BATCH) {
      const n = Math.min(BATCH, channels - start);
      // Copies of the activations built in JS: tfjs-wasm's broadcasting ops were 10x slower.
      const data = new Float32Array(n * activations.length);
      for (let i = 0; i < n; i++) {
        const copy = data.subarray(i * activations.length, (i + 1) * activations.length);
        copy.set(activations);
        for (let p = start + i; p < copy.length; p += channels) copy[p] = value;
      }
      const copies = tf.tensor4d(data, [n, h, w, channels]);
      // Disposed by hand: the graph engine keeps (tf.keep) what its nodes compute, which no tidy would free.
      let logits: Tensor2D | undefined;
      let scores: Float32Array;
      try {
        logits = ctx.model.logitsFrom(ctx.layer, copies);
        scores = ctx.scores(logits);
      } finally {
        tf.dispose([copies, ...(logits ? [logits] : [])]);
      }
      scores.forEach((s, i) => (weights[start + i] = (original - s) / original));
      await ctx.advance(n);
    }
    return weights;
  },
};
