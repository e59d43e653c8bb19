import { tf, type Tensor, type Tensor2D, type Tensor4D } from '../tf.js';
import { addSame } from '../ops/kernels/add.js';
import { stackBlock } from '../ops/kernels/stack.js';
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

/** A gradient pass as the executor sees it: its values, the values that lead to them, and the lowest node it needs. */
export interface PassScope {
  readonly wanted: ReadonlySet<string>;
  readonly depends: ReadonlySet<string>;
  /** Nodes above this index run (the lowest requested value's producer; -1 for the input). */
  readonly lowest: number;
}

export function passScope(graph: Graph, values: readonly string[]): PassScope {
  const depends = new Set(values);
  let lowest = graph.nodes.length;
  for (const v of values) lowest = Math.min(lowest, graph.producer.get(v) ?? lowest);
  graph.nodes.forEach((g) => {
    if (g.inputs.some((x) => depends.has(x))) for (const o of g.outputs) depends.add(o);
  });
  return { wanted: new Set(values), depends, lowest };
}

/**
 * Whether gradient passes run as one, stacked (NodeKernel.stacks): every node that runs while two or more
 * of them are under way must take stacked gradients. FullGrad's bias gradients are never stacked.
 */
export function passesStack(graph: Graph, scopes: readonly PassScope[], biasGradients: boolean): boolean {
  if (scopes.length < 2 || biasGradients) return false;
  const second = scopes.map((s) => s.lowest).sort((a, b) => a - b)[1]!;
  const depends = new Set(scopes.flatMap((s) => [...s.depends]));
  for (let i = graph.producer.get(graph.logits)!; i > second; i--) {
    const g = graph.nodes[i]!;
    if (g.inputs.some((x) => depends.has(x)) && !g.kernel.stacks) return false;
  }
  return true;
}

/** A gradient pass from the logits down to the lowest requested value (see gradientPasses). */
export const gradients = (graph: Graph, pass: GraphPass, plan: GradientPlan): GraphGradients => gradientPasses(graph, pass, [plan])[0]!;

/**
 * Gradient passes over one forward pass, from the logits down to each one's lowest requested value: nodes
 * run their input gradient only when an input leads back to a requested value, and each gradient is freed
 * once consumed. Where passesStack allows, the passes run as one with their gradients stacked along the
 * batch axis (a conv's products and transforms run once for all of them; the same values as one by one),
 * and a pass leaves the stack at its lowest value; otherwise they run one after another.
 */
export function gradientPasses(graph: Graph, pass: GraphPass, plans: readonly GradientPlan[]): GraphGradients[] {
  if (plans.length === 0) return [];
  const scopes = plans.map((p) => passScope(graph, p.values));
  if (plans.length > 1 && !passesStack(graph, scopes, plans.some((p) => p.biasGradients))) return plans.map((p) => gradients(graph, pass, p));
  const depends = new Set(scopes.flatMap((s) => [...s.depends]));
  const lowest = Math.min(...scopes.map((s) => s.lowest));
  const grads = new Map<string, Tensor>();
  const outs: GraphGradients[] = plans.map(() => ({ values: new Map(), biases: [] }));
  const retained = new Set<Tensor>();
  const [n, classes] = pass.logits.shape;
  /** The passes under way, in plan order: every gradient in `grads` stacks their blocks in this order. */
  let live = plans.map((_, s) => s);
  const seed = new Float32Array(plans.length * n * classes);
  plans.forEach((p, s) => seed.set(p.seed.subarray(0, n * classes), s * n * classes));
  grads.set(graph.logits, tf.tensor2d(seed, [plans.length * n, classes]));
  /** Block j of the live passes' stacked tensor t (t itself when one pass is under way). */
  const block = (t: Tensor, j: number): Tensor => (live.length === 1 ? t : stackBlock(graph.heap, t, j, live.length));
  const keepFor = (s: number, name: string, t: Tensor) => {
    outs[s]!.values.set(name, t);
    retained.add(t);
  };
  /** A node's output gradient, to each live pass that asked for it. */
  const take = (name: string, t: Tensor) => live.forEach((s, j) => scopes[s]!.wanted.has(name) && keepFor(s, name, block(t, j)));
  /** Passes whose lowest node is reached leave the stack, each taking its blocks of the pending gradients it asked for. */
  const leave = (leaving: (s: number) => boolean) => {
    if (!live.some(leaving)) return;
    const staying = live.filter((s) => !leaving(s));
    for (const [name, t] of [...grads]) {
      // All blocks, and the staying ones joined again, or none (a failed copy frees what it made; t stays in grads).
      const blocks = tf.tidy(() => live.map((_, j) => block(t, j)));
      const stay = blocks.filter((_, j) => !leaving(live[j]!));
      let joined: Tensor | undefined;
      try {
        joined = stay.length > 1 ? tf.concat(stay, 0) : stay[0];
      } catch (err) {
        if (live.length > 1) tf.dispose(blocks);
        throw err;
      }
      live.forEach((s, j) => {
        const b = blocks[j]!;
        if (leaving(s) && scopes[s]!.wanted.has(name) && graph.producer.get(name)! <= scopes[s]!.lowest) keepFor(s, name, b);
        else if (b !== joined) b.dispose();
      });
      if (live.length > 1) t.dispose();
      if (joined) grads.set(name, joined);
      else grads.delete(name);
    }
    live = staying;
  };
  /** The node's incoming and outgoing gradients while it runs (held by neither `grads` nor `retained` then). */
  let inFlight: (Tensor | undefined)[] = [];
  try {
    for (let i = graph.producer.get(graph.logits)!; i > lowest; i--) {
      leave((s) => scopes[s]!.lowest >= i);
      const g = graph.nodes[i]!;
      const dys = g.outputs.map((o) => grads.get(o));
      inFlight = dys;
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
        const guided = live.map((s) => plans[s]!.guided && g.node.guided === true);
        let dxs: (Tensor | undefined)[] = [];
        try {
          tf.tidy(() => {
            const seen = new Set<Tensor>(dys.filter((d): d is Tensor => d !== undefined));
            dxs = g.kernel.backward!(dys, saved, guided).map((t) => {
              if (!t) return t;
              // A gradient that is an incoming one, or returned twice (Add), gets its own handle: a reshape to
              // its own shape, which shares the data (tfjs counts its references) where a clone would copy it.
              const own = seen.has(t) ? tf.reshape(t, t.shape) : t;
              seen.add(t);
              return tf.keep(own);
            });
          });
        } catch (err) {
          if (err instanceof GradcamError) throw err;
          throw new InvalidInputError(`${g.node.opType} node '${g.node.name}' in ${graph.source}: its gradient failed: ${(err as Error).message}`, { cause: err });
        }
        inFlight = [...dys, ...dxs];
        // FullGrad's biases are those of ops with spatial outputs (convs, BatchNorm), as pytorch-grad-cam takes
        // nn.Conv2d and nn.BatchNorm2d biases only: a classifier's (Gemm) bias is not one of them. (Never stacked.)
        if (plans[live[0]!]!.biasGradients && g.kernel.bias && dys[0]?.rank === 4) {
          const grad = dys[0] as Tensor4D;
          outs[live[0]!]!.biases.push({ bias: g.kernel.bias, grad });
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
      inFlight = [];
    }
    leave(() => true);
    return outs;
  } catch (err) {
    const held = new Set([...grads.values(), ...retained]);
    tf.dispose([...held, ...inFlight.filter((t): t is Tensor => t !== undefined && !t.isDisposed && !held.has(t))]);
    throw err;
  }
}
