import { tf, type Tensor, type Tensor2D, type Tensor4D } from '../tf.js';
import { addSame } from '../ops/kernels/add.js';
import { GradcamError, InvalidInputError } from '../errors.js';
import type { Saved, Value } from '../ops/types.js';
import { isHost } from '../ops/util.js';
import { Graph, type GraphNode } from './graph.js';

/** One forward pass: the values later gradient passes and CAMs read (the rest was freed as it died). */
export class GraphPass {
  constructor(
    readonly input: Tensor4D,
    readonly values: Map<string, Value>,
    /** Stored shape of every value computed. */
    readonly shapes: Map<string, readonly number[]>,
    readonly logits: Tensor2D,
  ) {}
  dispose(): void {
    tf.dispose([...this.values.values()].filter((v): v is Tensor => !isHost(v) && v !== this.input));
    this.values.clear();
  }
}

const shapeOf = (v: Value): readonly number[] => (isHost(v) ? v.dims : v.shape);

/** Runs one node, keeping its outputs; an error from tfjs names the node and becomes an InvalidInputError. */
function run(graph: Graph, g: GraphNode, inputs: (Value | undefined)[], size: string): Value[] {
  let outs: Value[] = [];
  try {
    tf.tidy(() => {
      outs = g.kernel.forward(inputs as Value[]);
      for (const o of outs) if (!isHost(o)) tf.keep(o);
    });
  } catch (err) {
    if (err instanceof GradcamError) throw err;
    throw new InvalidInputError(`${g.node.opType} node '${g.node.name}' in ${graph.source} cannot take the input at ${size}: ${(err as Error).message}`, { cause: err });
  }
  return outs;
}

/**
 * Runs `nodes` with `values` holding what they read, freeing each tensor after its last use
 * unless `keep` holds it. Returns the logits. On error every tensor it made is freed.
 */
function runNodes(
  graph: Graph,
  nodes: readonly GraphNode[],
  lastUse: ReadonlyMap<string, number>,
  values: Map<string, Value>,
  shapes: Map<string, readonly number[]>,
  keep: ReadonlySet<string>,
  owned: ReadonlySet<string>,
  size: string,
): Tensor2D {
  const free = (name: string) => {
    const v = values.get(name);
    if (v && !isHost(v) && !owned.has(name)) v.dispose();
    values.delete(name);
  };
  try {
    for (let i = 0; i < nodes.length; i++) {
      const g = nodes[i]!;
      const outs = run(graph, g, g.inputs.map((x) => Graph.value(values, graph.constants, x)), size);
      g.outputs.forEach((o, k) => {
        if (!o || outs[k] === undefined) return;
        values.set(o, outs[k]!);
        shapes.set(o, shapeOf(outs[k]!));
        if (!lastUse.has(o) && !keep.has(o) && o !== graph.logits) free(o);
      });
      for (const x of new Set(g.inputs)) if (x && lastUse.get(x) === i && !keep.has(x)) free(x);
    }
    const logits = values.get(graph.logits);
    if (!logits || isHost(logits) || logits.rank !== 2) throw new GradcamError('UNSUPPORTED', `${graph.source}: the output '${graph.logits}' is not a 2-D tensor of logits`);
    return logits as Tensor2D;
  } catch (err) {
    for (const name of [...values.keys()]) free(name);
    throw err;
  }
}

/** The forward pass, keeping what gradients read (graph.saved) and the values in `keep` (layers). */
export function forward(graph: Graph, input: Tensor4D, keep: ReadonlySet<string>): GraphPass {
  const values = new Map<string, Value>([[graph.input, input]]);
  const shapes = new Map<string, readonly number[]>([[graph.input, input.shape]]);
  const all = new Set([...keep, ...graph.saved]);
  const logits = runNodes(graph, graph.nodes, graph.lastUse, values, shapes, all, new Set([graph.input]), `${input.shape[2]}x${input.shape[1]}`);
  return new GraphPass(input, values, shapes, logits);
}

/** Logits alone: every value is freed after its last use (nothing is kept for gradients). */
export function logitsOf(graph: Graph, input: Tensor4D): Tensor2D {
  const values = new Map<string, Value>([[graph.input, input]]);
  return runNodes(graph, graph.nodes, graph.lastUse, values, new Map(), new Set(), new Set([graph.input]), `${input.shape[2]}x${input.shape[1]}`);
}

/** Logits from a value's replacement (AblationCAM): only the nodes that depend on it run. */
export function logitsFrom(graph: Graph, value: string, replacement: Tensor4D): Tensor2D {
  const start = graph.producer.get(value);
  if (start === undefined) throw new InvalidInputError(`'${value}' is not a value of ${graph.source}`);
  const depends = new Set([value]);
  for (let i = start + 1; i < graph.nodes.length; i++) {
    const g = graph.nodes[i]!;
    if (!g.inputs.some((x) => depends.has(x))) continue;
    for (const [k, x] of g.inputs.entries()) {
      if (x && !depends.has(x) && !graph.constants.has(x) && !g.kernel.takes?.includes(k)) {
        throw new GradcamError('UNSUPPORTED', `${graph.source}: the network above '${value}' also reads '${x}' (from below it); logits cannot be computed from that layer alone`);
      }
    }
    for (const o of g.outputs) depends.add(o);
  }
  if (!depends.has(graph.logits)) throw new InvalidInputError(`the logits of ${graph.source} do not depend on '${value}'`);
  // Only the nodes that depend on the value run (the others would read values we do not have).
  const nodes = graph.nodes.filter((g, i) => i > start && g.inputs.some((x) => depends.has(x)));
  const lastUse = new Map<string, number>();
  nodes.forEach((g, i) => g.inputs.forEach((x) => x && lastUse.set(x, i)));
  const values = new Map<string, Value>([[value, replacement]]);
  return runNodes(graph, nodes, lastUse, values, new Map(), new Set(), new Set([value]), `${replacement.shape[2]}x${replacement.shape[1]}`);
}

export interface GradientPlan {
  /** d(score)/d(logits): numClasses values per batch item, row-major (or numClasses for item 0 alone). */
  readonly seed: Float32Array;
  /** Values whose gradients are returned. */
  readonly values: readonly string[];
  readonly guided: boolean;
  readonly biasGradients: boolean;
}

export interface GraphGradients {
  readonly values: Map<string, Tensor>;
  readonly biases: { bias: Float32Array; grad: Tensor4D }[];
}

/**
 * A gradient pass from the logits down to the lowest requested value: nodes run their input gradient
 * only when an input leads back to a requested value, and each gradient is freed once consumed.
 */
export function gradients(graph: Graph, pass: GraphPass, plan: GradientPlan): GraphGradients {
  const wanted = new Set(plan.values);
  const depends = new Set(plan.values);
  let lowest = graph.nodes.length;
  for (const v of plan.values) lowest = Math.min(lowest, graph.producer.get(v) ?? lowest);
  graph.nodes.forEach((g) => {
    if (g.inputs.some((x) => depends.has(x))) for (const o of g.outputs) depends.add(o);
  });
  const grads = new Map<string, Tensor>();
  const out: GraphGradients = { values: new Map(), biases: [] };
  const retained = new Set<Tensor>();
  const [n, classes] = pass.logits.shape;
  const seed = new Float32Array(n * classes);
  seed.set(plan.seed.subarray(0, n * classes));
  grads.set(graph.logits, tf.tensor2d(seed, [n, classes]));
  const take = (name: string, t: Tensor) => {
    if (wanted.has(name)) {
      out.values.set(name, t);
      retained.add(t);
    }
  };
  try {
    for (let i = graph.producer.get(graph.logits)!; i > lowest; i--) {
      const g = graph.nodes[i]!;
      const dys = g.outputs.map((o) => grads.get(o));
      if (dys.every((d) => d === undefined)) continue;
      g.outputs.forEach((o, k) => {
        grads.delete(o);
        if (dys[k]) take(o, dys[k]!);
      });
      if (g.inputs.some((x) => depends.has(x))) {
        if (!g.kernel.backward) throw new GradcamError('UNSUPPORTED', `${g.node.opType} node '${g.node.name}' in ${graph.source}: gradients through this op are not supported`);
        const saved: Saved = {
          inputs: g.inputs.map((x) => Graph.value(pass.values, graph.constants, x)),
          outputs: g.outputs.map((o) => pass.values.get(o)),
          inputShapes: g.inputs.map((x) => pass.shapes.get(x) ?? graph.constants.get(x)?.dims ?? []),
        };
        let dxs: (Tensor | undefined)[] = [];
        try {
          tf.tidy(() => {
            const seen = new Set<Tensor>(dys.filter((d): d is Tensor => d !== undefined));
            dxs = g.kernel.backward!(dys, saved, plan.guided && g.node.guided === true).map((t) => {
              if (!t) return t;
              // A gradient that is an incoming one, or returned twice (Add), gets its own handle.
              const own = seen.has(t) ? tf.clone(t) : t;
              seen.add(t);
              return tf.keep(own);
            });
          });
        } catch (err) {
          if (err instanceof GradcamError) throw err;
          throw new InvalidInputError(`${g.node.opType} node '${g.node.name}' in ${graph.source}: its gradient failed: ${(err as Error).message}`, { cause: err });
        }
        // FullGrad's biases are those of ops with spatial outputs (convs, BatchNorm), as pytorch-grad-cam takes
        // nn.Conv2d and nn.BatchNorm2d biases only: a classifier's (Gemm) bias is not one of them.
        if (plan.biasGradients && g.kernel.bias && dys[0]?.rank === 4) {
          const grad = dys[0] as Tensor4D;
          out.biases.push({ bias: g.kernel.bias, grad });
          retained.add(grad);
        }
        g.inputs.forEach((x, k) => {
          const dx = dxs[k];
          if (!dx) return;
          if (!x || !depends.has(x) || isHost(Graph.value(pass.values, graph.constants, x)!)) return dx.dispose();
          const prev = grads.get(x);
          if (prev) {
            grads.set(x, addSame(graph.heap, prev, dx));
            prev.dispose();
            dx.dispose();
          } else grads.set(x, dx);
        });
      }
      for (const d of dys) if (d && !retained.has(d)) d.dispose();
    }
    for (const [name, t] of grads) {
      if (wanted.has(name) && graph.producer.get(name)! <= lowest) take(name, t);
      else t.dispose();
    }
    grads.clear();
    return out;
  } catch (err) {
    tf.dispose([...grads.values(), ...retained]);
    throw err;
  }
}
