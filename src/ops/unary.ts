import { tf, type Tensor } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, onlyAttributes, tensorOf } from './util.js';

/**
 * Element-wise functions with plain gradients: each is its forward and its derivative, from the forward
 * input x and/or output y.
 */
function unary(
  f: (x: Tensor, a: Record<string, number>) => Tensor,
  df: (x: Tensor, y: Tensor, a: Record<string, number>) => Tensor,
  attrs: Record<string, number> = {},
): OpModule {
  return {
    create(spec) {
      onlyAttributes(spec, Object.keys(attrs));
      const a = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, attr<number>(spec, k, v)]));
      return {
        forward: ([x]) => [f(tensorOf(x!), a)],
        backward: ([dy], saved) => [tf.mul(dy!, df(saved.inputs[0] as Tensor, saved.outputs[0] as Tensor, a))],
        saves: { inputs: [0], outputs: true },
      };
    },
  };
}

const hardSigmoidMask = (x: Tensor, a: Record<string, number>): Tensor => {
  const z = tf.add(tf.mul(x, a.alpha!), a.beta!);
  return tf.cast(tf.logicalAnd(tf.greater(z, 0), tf.less(z, 1)), 'float32');
};

export const sigmoid = unary((x) => tf.sigmoid(x), (_x, y) => tf.mul(y, tf.sub(1, y)));
export const tanh = unary((x) => tf.tanh(x), (_x, y) => tf.sub(1, tf.square(y)));
export const sqrt = unary((x) => tf.sqrt(x), (_x, y) => tf.div(0.5, y));
export const exp = unary((x) => tf.exp(x), (_x, y) => y);
export const neg = unary((x) => tf.neg(x), (x) => tf.fill(x.shape, -1));
export const erf = unary((x) => tf.erf(x), (x) => tf.mul(2 / Math.sqrt(Math.PI), tf.exp(tf.neg(tf.square(x)))));
export const hardSigmoid = unary(
  (x, a) => tf.clipByValue(tf.add(tf.mul(x, a.alpha!), a.beta!), 0, 1),
  (x, _y, a) => tf.mul(hardSigmoidMask(x, a), a.alpha!),
  { alpha: 0.2, beta: 0.5 },
);
/** x * relu6(x + 3) / 6 (torch's Hardswish); derivative 0 below -3, 1 above 3, (2x + 3) / 6 between. */
export const hardSwish = unary(
  (x) => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)),
  (x) => tf.where(tf.less(x, -3), tf.zerosLike(x), tf.where(tf.greater(x, 3), tf.onesLike(x), tf.div(tf.add(tf.mul(x, 2), 3), 6))),
);
