import { tf, type Tensor } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, constantInput, onlyAttributes, storedAxis, tensorOf, unsupported } from './util.js';

/**
 * LayerNormalization (opset 17) over the last logical axis (ConvNeXt normalises channels after a
 * permute): y = (x - mean) / sqrt(var + eps) * scale + bias. Gradient:
 * dx = (g - mean(g) - x^ mean(g x^)) / sqrt(var + eps), g = dy * scale.
 */
export const layerNormalization: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['axis', 'epsilon', 'stash_type']);
    if (spec.node.outputs.filter(Boolean).length > 1) throw unsupported(spec, 'the Mean / InvStdDev outputs');
    const axis = attr<number>(spec, 'axis', -1);
    const eps = attr<number>(spec, 'epsilon', 1e-5);
    const scale = tf.tensor1d(Float32Array.from(constantInput(spec, 1, 'the scale').data));
    const bias = spec.node.inputs[2] ? tf.tensor1d(Float32Array.from(constantInput(spec, 2, 'the bias').data)) : undefined;
    /** The stored axis normalised over (the last logical one), and scale/bias shaped to broadcast along it. */
    const along = (t: Tensor) => {
      if ((axis < 0 ? axis + t.rank : axis) !== t.rank - 1) throw unsupported(spec, `normalising from axis ${axis} of a rank-${t.rank} value (only the last axis)`);
      const a = storedAxis(axis, t.rank);
      const shape = t.shape.map((d, i) => (i === a ? d : 1));
      return { a, s: tf.reshape(scale, shape), b: bias && tf.reshape(bias, shape) };
    };
    const normalise = (x: Tensor, a: number) => {
      const { mean, variance } = tf.moments(x, a, true);
      const inv = tf.rsqrt(tf.add(variance, eps));
      return { xhat: tf.mul(tf.sub(x, mean), inv), inv };
    };
    return {
      forward: ([x]) => {
        const t = tensorOf(x!);
        const { a, s, b } = along(t);
        const y = tf.mul(normalise(t, a).xhat, s);
        return [b ? tf.add(y, b) : y];
      },
      backward: ([dy], saved) => {
        const x = saved.inputs[0] as Tensor;
        const { a, s } = along(x);
        const { xhat, inv } = normalise(x, a);
        const g = tf.mul(dy!, s);
        const dx = tf.sub(tf.sub(g, tf.mean(g, a, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), a, true)));
        return [tf.mul(dx, inv)];
      },
      saves: { inputs: [0] },
      takes: [1, 2],
      tensors: bias ? [scale, bias] : [scale],
    };
  },
};
