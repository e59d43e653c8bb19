import { tf } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, constantInput, numbers, onlyAttributes, stackedShape, storedAxis, tensorOf, unsupported } from './util.js';

/** Pad, constant mode (pads and value constant); the gradient is the slice of the unpadded region. */
export const pad: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['mode']);
    const mode = attr<string>(spec, 'mode', 'constant');
    if (mode !== 'constant') throw unsupported(spec, `mode '${mode}' (only 'constant')`);
    const pads = numbers(constantInput(spec, 1, 'pads'));
    const value = spec.node.inputs[2] ? constantInput(spec, 2, 'the constant value').data[0]! : 0;
    const axes = spec.node.inputs[3] ? numbers(constantInput(spec, 3, 'axes')) : undefined;
    if (pads.some((p) => p < 0)) throw unsupported(spec, 'negative pads');
    const storedPads = (rank: number): [number, number][] => {
      const out: [number, number][] = Array.from({ length: rank }, () => [0, 0]);
      const list = axes ?? Array.from({ length: rank }, (_, i) => i);
      list.forEach((ax, i) => (out[storedAxis(ax, rank)] = [pads[i]!, pads[i + list.length]!]));
      return out;
    };
    return {
      forward: ([x]) => {
        const t = tensorOf(x!);
        return [tf.pad(t, storedPads(t.rank), value)];
      },
      backward: ([dy], saved, guided) => {
        const shape = saved.inputShapes[0]!;
        const p = storedPads(shape.length);
        // Stacked passes (k > 1): their first axis is not padded (see stacks).
        return [tf.slice(dy!, p.map(([b]) => b), stackedShape(shape, guided.length))];
      },
      // Only where the first (batch) axis is not padded: pads for every axis, or axes that leave it out.
      stacks: axes ? axes.every((a) => a > 0) : pads[0] === 0 && pads[pads.length / 2] === 0,
    };
  },
};
