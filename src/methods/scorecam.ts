import { tf, type Tensor2D, type Tensor4D } from '../tf.js';
import { softmax } from '../predictions.js';
import type { CamMethod } from './types.js';

/**
 * Masked inputs per forward pass: as many as make this many input pixels (16 at 224x224, pytorch-grad-cam's
 * batch size; at least 1), so that memory stays bounded at any input size. Measured (ResNet34 layer4,
 * 224x224, 32 channels, loaded 2-core machine): 16.3 s at 16 per pass, 17.0 s at 8, 17.3 s at 32, 26.7 s
 * at 1; peak RSS 784 MB at 16, 874 MB at 32.
 */
export const SCORECAM_BATCH_PIXELS = 16 * 224 * 224;

/**
 * Score-CAM (Wang et al. 2020, https://arxiv.org/abs/1910.01279) as pytorch-grad-cam computes it: each
 * channel upsampled to the input size (bilinear, align_corners=True as torch's UpsamplingBilinear2d),
 * min-max scaled (+1e-8), multiplied into the input; w = softmax over channels of the target's scores
 * of those masked inputs, which run through the network in batches (model.logits: nothing kept for gradients).
 */
export const scoreCam: CamMethod = {
  name: 'scorecam',
  needsGradients: false,
  reruns: true,
  async channelWeights(_layer, _kernels, ctx) {
    const [, H, W] = ctx.input.shape;
    const channels = ctx.activation.shape[3];
    const batch = Math.max(1, Math.floor(SCORECAM_BATCH_PIXELS / (H * W)));
    const scores = new Float32Array(channels);
    for (let start = 0; start < channels; start += batch) {
      const n = Math.min(batch, channels - start);
      const masked = tf.tidy(() => {
        const slice = tf.slice(ctx.activation, [0, 0, 0, start], [1, -1, -1, n]);
        const up = tf.image.resizeBilinear(slice, [H, W], true);
        const min = tf.min(up, [1, 2], true);
        const max = tf.max(up, [1, 2], true);
        const mask = tf.div(tf.sub(up, min), tf.add(tf.sub(max, min), 1e-8));
        return tf.mul(tf.transpose(mask, [3, 1, 2, 0]), ctx.input) as Tensor4D; // [n, H, W, 1] x [1, H, W, 3]
      });
      let logits: Tensor2D | undefined;
      try {
        logits = ctx.model.logits(masked);
        scores.set(ctx.scores(logits), start);
      } finally {
        tf.dispose([masked, ...(logits ? [logits] : [])]);
      }
      await ctx.advance(n);
    }
    return Float32Array.from(softmax(scores));
  },
};
