import { tf, type Tensor, type Tensor2D } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, constantInput, isHost, logicalShape, onlyAttributes, stackedShape, tensorOf, toLogical, toStored, unsupported } from './util.js';

/**
 * Gemm / MatMul with a constant right operand (a classifier's weights): y = alpha * A B + beta * C.
 * MatMul's A may have more axes (ConvNeXt's Linear layers on [N, H, W, C]): its last logical axis is the one
 * multiplied. The gradient goes to A only.
 */
export const gemm: OpModule = {
  create(spec) {
    const isGemm = spec.node.opType === 'Gemm';
    onlyAttributes(spec, isGemm ? ['alpha', 'beta', 'transA', 'transB'] : []);
    if (attr<number>(spec, 'transA', 0) !== 0) throw unsupported(spec, 'transA 1');
    const w = constantInput(spec, 1, 'the weight (B)');
    if (w.dims.length !== 2) throw unsupported(spec, `a weight of rank ${w.dims.length}`);
    const transB = attr<number>(spec, 'transB', 0) === 1;
    const alpha = attr<number>(spec, 'alpha', 1);
    const beta = attr<number>(spec, 'beta', 1);
    const c = spec.node.inputs[2] ? constantInput(spec, 2, 'C') : undefined;
    // C broadcasts over the rows: [], [1], [N], [1, 1] or [1, N].
    const [k, n] = transB ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
    // No closure here may name w or c: V8 would keep them (and whatever an importer's tensor holds, such
    // as its file) in the context that the kernel's functions share, for the graph's lifetime.
    const cDims = c?.dims;
    if (cDims && (cDims.length > 2 || cDims.some((d, i) => d !== 1 && (i !== cDims.length - 1 || d !== n)))) {
      throw unsupported(spec, `C of shape [${cDims.join(', ')}] for ${n} outputs`);
    }
    const b = tf.tensor2d(w.data instanceof Float32Array ? w.data : new Float32Array(w.data), w.dims as [number, number]);
    const bias = c && Float32Array.from(c.data, (v) => v * beta);
    const biasT = bias && tf.tensor(bias, cDims!.length ? [...cDims!] : [1]);
    return {
      forward: ([a]) => {
        const x = tensorOf(a!);
        if (x.rank < 2 || (isGemm && x.rank !== 2)) throw unsupported(spec, `an input of rank ${x.rank} (only 2-D${isGemm ? '' : ' or more'})`);
        const y = tf.matMul(rows(x, k), b, false, transB);
        const scaled = alpha === 1 ? y : tf.mul(y, alpha);
        return [unrows(biasT ? tf.add(scaled, biasT) : scaled, [...logicalShape(x.shape).slice(0, -1), n])];
      },
      backward: ([dy], saved, guided) => {
        const g = tf.matMul(rows(dy!, n), b, false, !transB);
        return [unrows(alpha === 1 ? g : tf.mul(g, alpha), stackedShape(logicalShape(saved.inputShapes[0]!), guided.length))];
      },
      stacks: true,
      bias: bias && bias.length > 1 ? bias : undefined,
      takes: [1, 2],
      tensors: biasT ? [b, biasT] : [b],
    };
  },
};

/** A stored tensor as the rows of its last logical axis (of length `k`); a 2-D one as it is. */
const rows = (x: Tensor, k: number): Tensor2D => (x.rank === 2 ? x : tf.reshape(toLogical(x), [-1, k])) as Tensor2D;
/** Rows back to a stored tensor of the given logical shape. */
const unrows = (y: Tensor, logical: readonly number[]): Tensor => (logical.length === 2 ? y : toStored(tf.reshape(y, [...logical])));

/** MatMul: a constant right operand (as Gemm), or two tensors of rank 2. */
export const matMul: OpModule = {
  create(spec, ctx) {
    if (spec.constants[1]) return gemm.create(spec, ctx);
    onlyAttributes(spec, []);
    return {
      forward: ([a, b]) => {
        if (isHost(a) && isHost(b)) throw unsupported(spec, 'host operands');
        return [tf.matMul(tensorOf(a!) as Tensor2D, tensorOf(b!) as Tensor2D)];
      },
      backward: ([dy], saved) => {
        const [a, b] = saved.inputs.map((v) => tensorOf(v!)) as [Tensor2D, Tensor2D];
        return [tf.matMul(dy as Tensor2D, b, false, true), tf.matMul(a, dy as Tensor2D, true, false)] as Tensor[];
      },
      saves: { inputs: [0, 1] },
    };
  },
};
