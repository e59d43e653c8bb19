import { tf, type Tensor } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, constantInput, onlyAttributes, tensorOf, unsupported } from './util.js';

/** BatchNormalization in inference mode, standing alone (DenseNet's pre-activation): x * s + t per channel. */
export const batchNormalization: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['epsilon', 'momentum', 'training_mode', 'spatial']);
    if (attr<number>(spec, 'training_mode', 0) !== 0) throw unsupported(spec, 'training_mode 1');
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => constantInput(spec, i, ['scale', 'bias', 'mean', 'var'][i - 1]!).data);
    const eps = attr<number>(spec, 'epsilon', 1e-5);
    const c = gamma!.length;
    // Folded in float64, rounded once.
    const scale = new Float32Array(c);
    const shift = new Float32Array(c);
    for (let k = 0; k < c; k++) {
      const s = gamma![k]! / Math.sqrt(variance![k]! + eps);
      scale[k] = s;
      shift[k] = beta![k]! - mean![k]! * s;
    }
    const s = tf.tensor1d(scale);
    const t = tf.tensor1d(shift);
    // Channels are the stored last axis for ranks 2 and 4 (NHWC); axis 1 otherwise.
    const perChannel = (v: Tensor, x: Tensor): Tensor => (x.rank === 2 || x.rank === 4 ? v : tf.reshape(v, [c, ...Array<number>(x.rank - 2).fill(1)]));
    return {
      forward: ([x]) => {
        const xt = tensorOf(x!);
        return [tf.add(tf.mul(xt, perChannel(s, xt)), perChannel(t, xt))];
      },
      backward: ([dy]) => [tf.mul(dy!, perChannel(s, dy!))],
      stacks: true,
      bias: shift,
      takes: [1, 2, 3, 4],
      tensors: [s, t],
    };
  },
};
