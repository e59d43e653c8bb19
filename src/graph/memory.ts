import type { CallMemory, MemoryStep } from '../engine/memory-budget.js';
import type { Graph } from './graph.js';

/**
 * A call's tensor memory computed from the graph, without running it: the executor's schedule (forward
 * pass, then gradient passes from the logits down) replayed over the value shapes of one pass at a
 * reference size. Every value's bytes scale with the input's pixels, except those without spatial
 * extent (rank <= 2, or 4-D with a 1x1 map: pooled features, logits), which are fixed. Each node also
 * holds temporaries of its own while it runs (Winograd planes, im2col columns, a tidy's intermediates),
 * counted as `workspace` times the bytes it reads and writes.
 */
export interface GraphMemoryQuery {
  /** Value shapes (stored order) of a pass at `pixels` input pixels. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  readonly pixels: number;
  /** Values the forward pass keeps besides what gradients read (layers, activations). */
  readonly keep: ReadonlySet<string>;
  /**
   * The gradient passes a call runs, in order, each by the values whose gradients it returns (held to the
   * end of the call); `biases`: also every biased op's output gradient (FullGrad).
   */
  readonly passes: readonly { readonly values: readonly string[]; readonly biases?: boolean }[];
}

/** Node temporaries per byte a node reads and writes; measured peaks of ResNet34 and MobileNet stay under this (see test/api/memory-estimate.test.ts). */
export const NODE_WORKSPACE = { forward: 2, backward: 2 } as const;

/** Bytes of a value as a line in the input's pixels: [fixed, perPixel]. */
type Line = [number, number];

export function graphCallMemory(graph: Graph, q: GraphMemoryQuery): CallMemory {
  const lines = new Map<string, Line>();
  const line = (name: string): Line => {
    let l = lines.get(name);
    if (!l) {
      const shape = q.shapes.get(name) ?? [];
      const bytes = 4 * shape.reduce((a, b) => a * b, 1);
      const spatial = shape.length >= 3 && !(shape.length === 4 && shape[1] === 1 && shape[2] === 1);
      l = spatial ? [0, bytes / q.pixels] : [bytes, 0];
      lines.set(name, l);
    }
    return l;
  };
  const isTensor = (name: string) => !!name && !graph.constants.has(name) && q.shapes.has(name);
  const steps: MemoryStep[] = [];
  const live: Line = [0, 0];
  const add = (l: Line, k = 1) => {
    live[0] += k * l[0];
    live[1] += k * l[1];
  };
  const step = (extra: Line = [0, 0]) => steps.push({ fixed: live[0] + extra[0], perPixel: live[1] + extra[1] });
  const sum = (names: readonly string[]): Line => {
    const s: Line = [0, 0];
    for (const n of new Set(names)) {
      if (!isTensor(n)) continue;
      const l = line(n);
      s[0] += l[0];
      s[1] += l[1];
    }
    return s;
  };
  const scaled = (l: Line, k: number): Line => [k * l[0], k * l[1]];

  // Forward: as executor.ts's runNodes.
  const kept = new Set([...q.keep, ...graph.saved, graph.logits, graph.input]);
  add(line(graph.input));
  graph.nodes.forEach((g, i) => {
    const outs = sum(g.outputs);
    add(outs);
    const io = sum([...g.inputs, ...g.outputs]);
    step(scaled(io, NODE_WORKSPACE.forward));
    for (const o of g.outputs) if (isTensor(o) && !graph.lastUse.has(o) && !kept.has(o)) add(line(o), -1);
    for (const x of new Set(g.inputs)) if (isTensor(x) && graph.lastUse.get(x) === i && !kept.has(x)) add(line(x), -1);
  });

  // Gradient passes: as executor.ts's gradients(); each pass's returned gradients stay live.
  for (const { values, biases } of q.passes) {
    const wanted = new Set(values);
    const depends = new Set(values);
    let lowest = graph.nodes.length;
    for (const v of values) lowest = Math.min(lowest, graph.producer.get(v) ?? lowest);
    for (const g of graph.nodes) if (g.inputs.some((x) => depends.has(x))) for (const o of g.outputs) depends.add(o);
    const grads = new Set<string>([graph.logits]);
    add(line(graph.logits));
    for (let i = graph.producer.get(graph.logits) ?? -1; i > lowest; i--) {
      const g = graph.nodes[i]!;
      const dys = g.outputs.filter((o) => grads.has(o));
      if (dys.length === 0) continue;
      for (const o of dys) grads.delete(o);
      if (g.inputs.some((x) => depends.has(x))) {
        const dxs = sum(g.inputs);
        add(dxs);
        step(scaled(sum([...g.inputs, ...dys]), NODE_WORKSPACE.backward));
        add(dxs, -1);
        for (const x of new Set(g.inputs)) {
          if (!isTensor(x) || !depends.has(x)) continue;
          // An accumulated gradient (prev + dx) is a new tensor beside both for a moment.
          if (grads.has(x)) step(line(x));
          else {
            grads.add(x);
            add(line(x));
          }
        }
      }
      const retained = biases && g.kernel.bias !== undefined;
      for (const o of dys) if (!wanted.has(o) && !retained) add(line(o), -1);
    }
    for (const name of grads) if (!wanted.has(name)) add(line(name), -1);
  }
  return { steps };
}
