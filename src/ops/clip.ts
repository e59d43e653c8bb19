import { tf, type Tensor } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, constantInput, onlyAttributes, tensorOf } from './util.js';

/**
 * Clip (ReLU6 and friends). The gradient passes where min < x < max, as torch's hardtanh (nn.ReLU6);
 * the guided rule (Keras ReLU6) also drops negative incoming gradient.
 */
export const clip: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['min', 'max']);
    const bound = (i: number, name: string, fallback: number): number =>
      spec.node.inputs[i] ? constantInput(spec, i, `the ${name}`).data[0]! : attr<number>(spec, name, fallback);
    const lo = bound(1, 'min', -Infinity);
    const hi = bound(2, 'max', Infinity);
    return {
      forward: ([x]) => [lo === 0 && hi === 6 ? tf.relu6(tensorOf(x!)) : tf.clipByValue(tensorOf(x!), Math.max(lo, -3.4e38), Math.min(hi, 3.4e38))],
      backward: ([dy], saved, guided) => {
        const x = saved.inputs[0] as Tensor;
        const pass = tf.logicalAnd(tf.greater(x, lo), tf.less(x, hi));
        return [tf.mul(guided[0] ? tf.relu(dy!) : dy!, tf.cast(pass, 'float32'))];
      },
      saves: { inputs: [0] },
    };
  },
};
