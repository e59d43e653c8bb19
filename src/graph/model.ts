import { tf, type Tensor2D, type Tensor4D } from '../tf.js';
import { GradcamError, InvalidInputError, LayerNotFoundError } from '../errors.js';
import { chooseLabels } from '../models/labels.js';
import type { CallMemoryRequest, ExplainableModel, ForwardPass, GradientRequest, Gradients } from '../models/types.js';
import type { EngineContext, OpNode } from '../ops/types.js';
import { Graph, type GraphSpec } from './graph.js';
import { forward, gradientPasses, logitsFrom, logitsOf, type GraphGradients, type GraphPass } from './executor.js';
import { graphCallMemory } from './memory.js';
import type { CallMemory } from '../engine/memory-budget.js';

export interface GraphModelOptions {
  /** Class names; ImageNet's when omitted and the model has 1000 classes. */
  readonly labels?: readonly string[];
  /** [height, width] when the model takes only that size (static input dims). */
  readonly requiredInputSize?: readonly [number, number];
  /** The default layer, when the importer knows it; otherwise the last named layer with a spatial 4-D output. */
  readonly defaultLayer?: string;
  /** Smallest input side accepted (default 1). */
  readonly minInputSize?: number;
}

class Pass implements ForwardPass {
  constructor(
    readonly pass: GraphPass,
    private readonly valueOf: (layer: string) => string,
  ) {}
  get input(): Tensor4D {
    return this.pass.input;
  }
  get logits(): Tensor2D {
    return this.pass.logits;
  }
  activation(layer: string): Tensor4D {
    const v = this.pass.values.get(this.valueOf(layer));
    if (!(v instanceof tf.Tensor) || v.rank !== 4) throw new InvalidInputError(`layer '${layer}' is not a 4-D activation in this pass`);
    return v as Tensor4D;
  }
  dispose(): void {
    this.pass.dispose();
  }
}

/** Any network as a graph of typed ops (src/ops), explained by one forward pass and gradient passes that reuse it. */
export class GraphModel implements ExplainableModel {
  readonly layers: readonly string[];
  readonly defaultLayers: readonly string[];
  readonly numClasses: number;
  readonly labels: readonly string[] | undefined;
  readonly minInputSize: number;
  readonly requiredInputSize: readonly [number, number] | undefined;
  private readonly byName: ReadonlyMap<string, string>;
  /** Layers whose CAM activation is another value than their gradient's. */
  private readonly activationOf: ReadonlyMap<string, string>;
  /** Value shapes of the probe pass the constructor runs, and its input pixels (callMemory scales them). */
  private readonly reference: { readonly shapes: ReadonlyMap<string, readonly number[]>; readonly pixels: number };

  /** Builds the graph and probes it once (a blank input) for the number of classes and the default layer. */
  constructor(
    private readonly graph: Graph,
    spec: GraphSpec,
    options: GraphModelOptions = {},
  ) {
    this.layers = spec.layers.map((l) => l.name);
    this.byName = new Map(spec.layers.map((l) => [l.name, l.value]));
    this.activationOf = new Map(spec.layers.filter((l) => l.activation).map((l) => [l.name, l.activation!]));
    this.requiredInputSize = options.requiredInputSize;
    this.minInputSize = options.minInputSize ?? 1;
    const [h, w] = options.requiredInputSize ?? [224, 224];
    const x = tf.zeros([1, h, w, 3]) as Tensor4D;
    let pass: GraphPass | undefined;
    try {
      pass = forward(graph, x, new Set(this.byName.values()));
      this.numClasses = pass.logits.shape[1];
      this.reference = { shapes: new Map(pass.shapes), pixels: h * w };
      this.defaultLayers = [options.defaultLayer ?? this.lastSpatialLayer(pass, spec.source)];
      this.labels = chooseLabels(options.labels, this.numClasses);
    } catch (err) {
      graph.dispose();
      throw err;
    } finally {
      pass?.dispose();
      x.dispose();
    }
  }

  /**
   * The named layer with a spatial 4-D output computed last (before global pooling): by the node that makes
   * it, not by the layer list's order, where a branchy module (GoogLeNet's inception5b) comes before its branches.
   * Of the names a value has, the shortest that is not a top-level module: pytorch-grad-cam's `layer4[-1]`,
   * `features[-1]`.
   */
  private lastSpatialLayer(pass: GraphPass, source: string): string {
    const spatial = (name: string) => {
      const v = pass.values.get(this.byName.get(name)!);
      return v instanceof tf.Tensor && v.rank === 4 && (v.shape[1]! > 1 || v.shape[2]! > 1);
    };
    const made = (name: string) => this.graph.producer.get(this.byName.get(name)!)!;
    // An exported adaptive pool to the size it already has (VGG's and AlexNet's avgpool at 224x224) copies
    // its input: the layer before it is the one pytorch-grad-cam's docs name (features[-1]).
    const copies = (name: string) => {
      const node = this.graph.nodes[made(name)]?.node;
      const kernel = node?.attributes.get('kernel_shape');
      return node?.opType === 'Identity' || (node?.opType === 'AveragePool' && Array.isArray(kernel) && kernel.every((k) => k === 1) && sameShape(pass, node));
    };
    const last = this.layers.filter((l) => spatial(l) && !copies(l)).reduce<string | undefined>((best, l) => (best === undefined || made(l) > made(best) ? l : best), undefined);
    if (!last) throw new GradcamError('UNSUPPORTED', `${source}: no named layer has a spatial 4-D output to explain`);
    const value = this.byName.get(last);
    const names = this.layers.filter((l) => this.byName.get(l) === value).sort((a, b) => a.length - b.length);
    return names.find((n) => n.includes('.')) ?? names[0]!;
  }

  static create(spec: GraphSpec, ctx: EngineContext, options?: GraphModelOptions): GraphModel {
    return new GraphModel(new Graph(spec, ctx), spec, options);
  }

  /** A named layer, or any value of the graph by its own (e.g. ONNX) name. */
  hasLayer(name: string): boolean {
    return this.byName.has(name) || (this.graph.producer.has(name) && name !== this.graph.input);
  }

  private valueOf = (layer: string): string => {
    const v = this.byName.get(layer) ?? (this.hasLayer(layer) ? layer : undefined);
    if (v === undefined) throw new LayerNotFoundError(layer, this.layers);
    return v;
  };

  forward(input: Tensor4D, layers: readonly string[] = this.defaultLayers): Pass {
    return new Pass(forward(this.graph, input, this.kept(layers)), (l) => this.activationOf.get(l) ?? this.valueOf(l));
  }

  /** The values a forward pass keeps for these layers' CAMs (and every named layer's). */
  private kept(layers: readonly string[]): Set<string> {
    return new Set([...this.byName.values(), ...this.activationOf.values(), ...layers.map(this.valueOf)]);
  }

  /** A call's tensor memory from the graph's schedule (graph/memory.ts), without running it. */
  callMemory(req: CallMemoryRequest): CallMemory {
    const keep = this.kept(req.layers);
    const passes = req.passes.map((p) => ({
      values: [...p.layers.map(this.valueOf), ...(p.toInput ? [this.graph.input] : [])],
      biases: p.biasGradients,
    }));
    return graphCallMemory(this.graph, { ...this.reference, keep, passes });
  }

  gradients(pass: ForwardPass, req: GradientRequest): Gradients {
    return this.gradientPasses(pass, [req])[0]!;
  }

  /** Gradient passes over one forward pass, stacked where every op they run allows (executor.ts). */
  gradientPasses(pass: ForwardPass, reqs: readonly GradientRequest[]): Gradients[] {
    const p = (pass as Pass).pass;
    const n = p.logits.shape[0];
    for (const req of reqs) {
      if (req.seed.length !== this.numClasses && req.seed.length !== n * this.numClasses) {
        throw new InvalidInputError(`the gradient seed has ${req.seed.length} values; the model has ${this.numClasses} classes and the pass ${n} images`);
      }
    }
    const plans = reqs.map((req) => ({
      seed: req.seed,
      values: [...req.layers.map(this.valueOf), ...(req.toInput ? [this.graph.input] : [])],
      guided: req.guided,
      biasGradients: req.biasGradients === true,
    }));
    return gradientPasses(this.graph, p, plans).map((g, i) => this.asGradients(p, reqs[i]!, g));
  }

  private asGradients(p: GraphPass, req: GradientRequest, g: GraphGradients): Gradients {
    const values = req.layers.map(this.valueOf);
    // A layer the score does not depend on has a zero gradient.
    const of = (v: string) => (g.values.get(v) as Tensor4D | undefined) ?? (tf.zeros(p.shapes.get(v)! as [number, number, number, number]) as Tensor4D);
    const layers: Record<string, Tensor4D> = {};
    req.layers.forEach((l, i) => {
      layers[l] = of(values[i]!);
    });
    const seen = new Set<unknown>();
    for (const l of req.layers) {
      // Two names of one value share a tensor: each gets its own handle.
      if (seen.has(layers[l])) layers[l] = tf.clone(layers[l]!);
      seen.add(layers[l]);
    }
    return { layers, input: req.toInput ? of(this.graph.input) : undefined, biases: req.biasGradients ? g.biases : undefined };
  }

  logits(input: Tensor4D): Tensor2D {
    return logitsOf(this.graph, input);
  }

  logitsFrom(layer: string, activations: Tensor4D): Tensor2D {
    return logitsFrom(this.graph, this.valueOf(layer), activations);
  }

  dispose(): void {
    this.graph.dispose();
  }
}

/** Whether a node's first input and output have one shape in this pass. */
function sameShape(pass: GraphPass, node: OpNode): boolean {
  const a = pass.shapes.get(node.inputs[0]!);
  const b = pass.shapes.get(node.outputs[0]!);
  return a !== undefined && b !== undefined && a.length === b.length && a.every((d, i) => d === b[i]);
}
