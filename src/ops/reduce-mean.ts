import { tf } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, constantInput, logicalShape, numbers, onlyAttributes, storedAxis, tensorOf, toLogical, toStored } from './util.js';

/** ReduceMean over logical axes (attribute, or input from opset 18); the gradient spreads evenly. */
export const reduceMean: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['axes', 'keepdims', 'noop_with_empty_axes']);
    const given = spec.node.inputs[1] ? numbers(constantInput(spec, 1, 'axes')) : attr<number[]>(spec, 'axes');
    const keep = attr<number>(spec, 'keepdims', 1) === 1;
    const axesFor = (rank: number) => (given ?? Array.from({ length: rank }, (_, i) => i)).map((a) => (a < 0 ? a + rank : a));
    return {
      forward: ([x]) => {
        const t = tensorOf(x!);
        const axes = axesFor(t.rank);
        // Keeping dims, the rank (and so the layout) is unchanged; otherwise reduce in logical order.
        if (keep) return [tf.mean(t, axes.map((a) => storedAxis(a, t.rank)), true)];
        return [toStored(tf.mean(toLogical(t), axes, false))];
      },
      backward: ([dy], saved) => {
        const shape = saved.inputShapes[0]!;
        const axes = axesFor(shape.length);
        const stored = axes.map((a) => storedAxis(a, shape.length));
        const count = stored.reduce((n, a) => n * shape[a]!, 1);
        const kept = logicalShape(shape).map((d, i) => (axes.includes(i) ? 1 : d));
        const g = keep ? dy! : toStored(tf.reshape(toLogical(dy!), kept));
        return [tf.mul(tf.div(g, count), tf.ones([...shape]))];
      },
    };
  },
};
