import type { Tensor } from '../tf.js';
import type { WasmHeap } from './kernels/heap.js';

/**
 * A small tensor kept in JS: constants, and the shape arithmetic ONNX exports carry (Shape, Gather,
 * Concat of sizes...), evaluated for the actual input size. Logical (ONNX) order.
 */
export interface HostTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array;
  /** Integer or bool values (ONNX int64/int32/bool); float otherwise. */
  readonly int: boolean;
}

/**
 * A value flowing through the graph. Semantics are ONNX's (logical NCHW order); a rank-4 tensor is
 * stored NHWC (tfjs-wasm's convolutions are NHWC), every other rank in logical order (src/ops/layout.ts).
 */
export type Value = Tensor | HostTensor;

export type Attribute = number | string | readonly number[] | readonly string[] | { readonly dims: readonly number[]; readonly data: Float32Array | Float64Array; readonly elemType: number };

/** One node as an importer describes it, in ONNX's op vocabulary (the engine's op set). */
export interface OpNode {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, Attribute>;
  /** Whether this activation follows the guided rule in guided passes (the importer decides). */
  readonly guided?: boolean;
}

/** What an op sees when it is built: its node, the model file (for errors), and its inputs known at build time. */
export interface OpSpec {
  readonly node: OpNode;
  readonly source: string;
  /** Per input: its value when it is a constant (weights, Constant nodes folded at build time). */
  readonly constants: readonly (HostTensor | undefined)[];
}

/** What a node's gradient reads from the forward pass (kept only when the node asked for it in `saves`). */
export interface Saved {
  readonly inputs: readonly (Value | undefined)[];
  readonly outputs: readonly (Value | undefined)[];
  /** Stored shapes (rank 4: NHWC) of every input, always known. */
  readonly inputShapes: readonly (readonly number[])[];
}

/** A built node: forward, input gradient, and which forward values that gradient needs. */
export interface NodeKernel {
  forward(inputs: readonly Value[]): Value[];
  /**
   * d(score)/d(inputs) from d(score)/d(outputs) (undefined where an output gets no gradient); undefined
   * for an input that gets none (shapes, constants). `guided` has one entry per gradient pass in dys
   * (one, unless the kernel `stacks`): whether that pass follows the guided rule (nodes marked guided).
   */
  backward?(dys: readonly (Tensor | undefined)[], saved: Saved, guided: readonly boolean[]): (Tensor | undefined)[];
  /**
   * Whether backward also takes several gradient passes at once, stacked: k = guided.length passes over the
   * same forward values, each gradient the k passes' tensors one after another along the stored first axis
   * (each pass's block shaped as alone), and the input gradients returned stacked the same way.
   */
  readonly stacks?: boolean;
  /** Which forward values backward reads: inputs (by index) and/or outputs. */
  readonly saves?: { readonly inputs?: readonly number[]; readonly outputs?: boolean };
  /** The bias this op adds to its output (FullGrad's bias gradients). */
  readonly bias?: Float32Array;
  /** Constant inputs (by index) the kernel copied when it was built (weights): the graph drops its own copy. */
  readonly takes?: readonly number[];
  /** Tensors the kernel owns (prepared filters...), disposed with the graph. */
  readonly tensors?: readonly Tensor[];
}

/** One op type: builds a node's kernel from its spec. An op module is one short file under src/ops/. */
export interface OpModule {
  create(spec: OpSpec, ctx: EngineContext): NodeKernel;
}

export type OpRegistry = Readonly<Record<string, OpModule>>;

/** The one object that carries how the engine computes: the backend's heap (with our kernels) and the ops. */
export interface EngineContext {
  readonly heap: WasmHeap;
  readonly ops: OpRegistry;
}
