import { tf, type Tensor } from '../tf.js';
import { GradcamError, WeightsError } from '../errors.js';
import type { EngineContext, HostTensor, NodeKernel, OpNode, Value } from '../ops/types.js';
import type { WasmHeap } from '../ops/kernels/heap.js';
import { isHost } from '../ops/util.js';

/** What an importer builds: nodes in ONNX's op vocabulary, topologically sorted, with their constants. */
export interface GraphSpec {
  /** The model file (or 'bytes'), named in every error. */
  readonly source: string;
  readonly nodes: readonly OpNode[];
  readonly constants: ReadonlyMap<string, HostTensor>;
  /** The image input (logical [N, 3, H, W], stored NHWC). */
  readonly input: string;
  /** The logits [N, classes]; a final Softmax after them is dropped. */
  readonly output: string;
  /** Named layers (torch module paths, Keras layer names...) in graph order, with the value each one outputs. */
  readonly layers: readonly GraphLayer[];
}

/** A named layer: the value whose gradient is taken, and the value a CAM reads as its activation (the same unless said). */
export interface GraphLayer {
  readonly name: string;
  readonly value: string;
  /** What a forward hook sees when the framework later changes the output in place (see importers/onnx/graph.ts). */
  readonly activation?: string;
}

/** A node ready to run. */
export interface GraphNode {
  readonly node: OpNode;
  readonly kernel: NodeKernel;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/**
 * The executable graph: the importer's nodes with their kernels built (constant subgraphs folded), the
 * last use of every value and the values that gradient passes read.
 */
export class Graph {
  readonly nodes: readonly GraphNode[];
  readonly constants: Map<string, HostTensor>;
  readonly input: string;
  readonly logits: string;
  readonly source: string;
  /** Index of the node producing each value (the input: -1). */
  readonly producer = new Map<string, number>();
  /** Index of the last node reading each value. */
  readonly lastUse = new Map<string, number>();
  /** Values some gradient reads (kept by forward passes). */
  readonly saved = new Set<string>();
  /** The backend's heap the ops were built on (the executor sums gradients with its kernels). */
  readonly heap: WasmHeap;

  constructor(spec: GraphSpec, ctx: EngineContext) {
    this.source = spec.source;
    this.heap = ctx.heap;
    this.input = spec.input;
    this.constants = new Map(spec.constants);
    const producers = new Map<string, OpNode>();
    for (const n of spec.nodes) for (const o of n.outputs) producers.set(o, n);
    // A final softmax is not part of the logits.
    let logits = spec.output;
    const last = producers.get(logits);
    if (last?.opType === 'Softmax') logits = last.inputs[0]!;
    this.logits = logits;

    // Only what the logits need, in order.
    const needed = new Set<string>([logits]);
    const keepNodes = new Set<OpNode>();
    for (let i = spec.nodes.length - 1; i >= 0; i--) {
      const n = spec.nodes[i]!;
      if (!n.outputs.some((o) => needed.has(o))) continue;
      keepNodes.add(n);
      for (const x of n.inputs) if (x) needed.add(x);
    }
    const nodes: GraphNode[] = [];
    try {
      for (const n of spec.nodes) {
        if (!keepNodes.has(n)) continue;
        const op = ctx.ops[n.opType];
        if (!op) throw new GradcamError('UNSUPPORTED', `${n.opType} node '${n.name}' in ${spec.source}: op type ${n.opType} is not supported`);
        let kernel: NodeKernel;
        const constants = n.inputs.map((x) => this.constants.get(x));
        try {
          kernel = op.create({ node: n, source: spec.source, constants }, ctx);
          // Kernels read their constants while they are created; one that keeps its spec (for its error
          // messages) must not keep the weights with it (an ONNX model's would hold the whole file's bytes).
          constants.fill(undefined);
        } catch (err) {
          // tfjs rejecting a constant (a weight whose size does not match its shape...) names the node.
          if (err instanceof GradcamError) throw err;
          throw new WeightsError(`${n.opType} node '${n.name}' in ${spec.source}: ${(err as Error).message}`);
        }
        if (this.fold(n, kernel)) continue;
        nodes.push({ node: n, kernel, inputs: n.inputs, outputs: n.outputs });
      }
    } catch (err) {
      tf.dispose(nodes.flatMap((g) => [...(g.kernel.tensors ?? [])]));
      throw err;
    }
    this.nodes = nodes;
    // Weights the kernels copied are not kept twice.
    const readLater = new Set(nodes.flatMap((g) => g.inputs.filter((x, k) => x && !g.kernel.takes?.includes(k))));
    for (const name of [...this.constants.keys()]) if (!readLater.has(name)) this.constants.delete(name);
    nodes.forEach((g, i) => {
      for (const o of g.outputs) this.producer.set(o, i);
      for (const x of g.inputs) if (x) this.lastUse.set(x, i);
      const saves = g.kernel.saves;
      for (const k of saves?.inputs ?? []) if (g.inputs[k]) this.saved.add(g.inputs[k]!);
      if (saves?.outputs) for (const o of g.outputs) this.saved.add(o);
    });
    this.producer.set(this.input, -1);
  }

  /** Evaluates a node whose inputs are all constants and whose outputs are host values (Constant, shape arithmetic on constants). */
  private fold(n: OpNode, kernel: NodeKernel): boolean {
    if (!n.inputs.every((x) => !x || this.constants.has(x))) return false;
    let outs: Value[] = [];
    tf.tidy(() => {
      outs = kernel.forward(n.inputs.map((x) => this.constants.get(x)!));
    });
    if (!outs.every(isHost)) return false;
    n.outputs.forEach((o, i) => this.constants.set(o, outs[i] as HostTensor));
    tf.dispose([...(kernel.tensors ?? [])]);
    return true;
  }

  /** A value of a pass or a constant. */
  static value(values: ReadonlyMap<string, Value>, constants: ReadonlyMap<string, HostTensor>, name: string): Value | undefined {
    return name ? (values.get(name) ?? constants.get(name)) : undefined;
  }

  dispose(): void {
    tf.dispose(this.nodes.flatMap((g) => [...(g.kernel.tensors ?? [])]) as Tensor[]);
  }
}
