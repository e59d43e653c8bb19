import { tf, type Tensor4D } from '../tf.js';
import { softmax } from '../predictions.js';
import type { CamMethod } from './types.js';

/** Masked inputs per forward pass. */
const BATCH = 8;

/**
 * Score-CAM (Wang et al. 2020, https://arxiv.org/abs/1910.01279) as pytorch-grad-cam computes it: each
 * channel upsampled to the input size (bilinear, align_corners=True as torch's UpsamplingBilinear2d),
 * min-max scaled (+1e-8), multiplied into the input; w = softmax over channels of the target's scores
 * of those masked inputs.
 */
export const scoreCam: CamMethod = {
  name: 'scorecam',
  needsGradients: false,
  reruns: true,
  async channelWeights(_layer, _kernels, ctx) {
    const [, H, W] = ctx.input.shape;
    const channels = ctx.activation.shape[3];
    const scores = new Float32Array(channels);
    for (let start = 0; start < channels; start += BATCH) {
      const n = Math.min(BATCH, channels - start);
      const masked = tf.tidy(() => {
        const slice = tf.slice(ctx.activation, [0, 0, 0, start], [1, -1, -1, n]);
        const up = tf.image.resizeBilinear(slice, [H, W], true);
        const min = tf.min(up, [1, 2], true);
        const max = tf.max(up, [1, 2], true);
        const mask = tf.div(tf.sub(up, min), tf.add(tf.sub(max, min), 1e-8));
        return tf.mul(tf.transpose(mask, [3, 1, 2, 0]), ctx.input) as Tensor4D; // [n, H, W, 1] x [1, H, W, 3]
      });
      // One image per forward pass: the engine's kernels take a batch of one.
      const logits = tf.tidy(() =>
        tf.concat(
          tf.split(masked, n).map((image) => {
            const pass = ctx.model.forward(image as Tensor4D);
            try {
              return tf.clone(pass.logits);
            } finally {
              pass.dispose();
            }
          }),
        ),
      );
      try {
        scores.set(ctx.scores(logits), start);
      } finally {
        tf.dispose([logits, masked]);
      }
      await ctx.advance(n);
    }
    return Float32Array.from(softmax(scores));
  },
};
