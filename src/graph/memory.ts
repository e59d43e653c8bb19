import type { CallMemory, MemoryStep } from '../engine/memory-budget.js';
import type { Graph } from './graph.js';
import { passScope, passesStack } from './executor.js';

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

  // Gradient passes: as executor.ts's gradientPasses(); the returned gradients stay live. Stacked passes run
  // as one, each gradient k blocks while k passes are under way.
  const scopes = q.passes.map((p) => passScope(graph, p.values));
  const stacked = passesStack(graph, scopes, q.passes.some((p) => p.biases));
  const groups = stacked ? [scopes.map((_, s) => s)] : scopes.map((_, s) => [s]);
  for (const group of groups) {
    let live = group;
    const depends = new Set(group.flatMap((s) => [...scopes[s]!.depends]));
    const lowest = Math.min(...group.map((s) => scopes[s]!.lowest));
    const wantedBy = (name: string) => live.filter((s) => scopes[s]!.wanted.has(name)).length;
    const biases = group.some((s) => q.passes[s]!.biases);
    const grads = new Set<string>([graph.logits]);
    add(line(graph.logits), live.length);
    for (let i = graph.producer.get(graph.logits) ?? -1; i > lowest; i--) {
      // Passes that reach their lowest node leave: their blocks of pending gradients they did not ask for are freed.
      // (The blocks that stay are copied out of the stacked tensors first.)
      const leaving = live.filter((s) => scopes[s]!.lowest >= i);
      if (leaving.length > 0 && live.length > 1) step(scaled(sum([...grads]), live.length));
      for (const s of leaving) for (const name of grads) if (!scopes[s]!.wanted.has(name)) add(line(name), -1);
      live = live.filter((s) => !leaving.includes(s));
      const k = live.length;
      const g = graph.nodes[i]!;
      const dys = g.outputs.filter((o) => grads.has(o));
      if (dys.length === 0) continue;
      for (const o of dys) grads.delete(o);
      if (g.inputs.some((x) => depends.has(x))) {
        const dxs = scaled(sum(g.inputs), k);
        add(dxs);
        step(scaled(sum([...g.inputs, ...dys]), k * NODE_WORKSPACE.backward));
        add(dxs, -1);
        for (const x of new Set(g.inputs)) {
          if (!isTensor(x) || !depends.has(x)) continue;
          // An accumulated gradient (prev + dx) is a new tensor beside both for a moment.
          if (grads.has(x)) step(scaled(line(x), k));
          else {
            grads.add(x);
            add(line(x), k);
          }
        }
      }
      const retained = biases && g.kernel.bias !== undefined;
      // A stacked gradient that passes asked for is copied out, block by block, before it is freed.
      for (const o of dys) {
        if (retained) continue;
        const kept = wantedBy(o);
        if (k > 1 && kept > 0) step(scaled(line(o), kept));
        add(line(o), kept - k);
      }
    }
    for (const name of grads) add(line(name), wantedBy(name) - live.length);
  }
  return { steps };
}
