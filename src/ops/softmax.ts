import { tf, type Tensor } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, onlyAttributes, storedAxis, tensorOf, unsupported } from './util.js';

/** Softmax over the last logical axis (opset 13 default), e.g. a final classifier softmax. */
export const softmax: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['axis']);
    const axis = attr<number>(spec, 'axis', -1);
    const check = (t: Tensor) => {
      if (storedAxis(axis, t.rank) !== t.rank - 1) throw unsupported(spec, `softmax over axis ${axis} of a rank-${t.rank} value (only the last axis)`);
    };
    return {
      forward: ([x]) => {
        const t = tensorOf(x!);
        check(t);
        return [tf.softmax(t)];
      },
      backward: ([dy], saved) => {
        const y = saved.outputs[0] as Tensor;
        return [tf.mul(y, tf.sub(dy!, tf.sum(tf.mul(dy!, y), -1, true)))];
      },
      saves: { outputs: true },
    };
  },
};
