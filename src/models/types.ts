import type { Tensor2D, Tensor4D } from '../tf.js';
import type { CallMemory } from '../engine/memory-budget.js';

/** The tensors of one forward pass that later gradient passes and CAMs read; the caller disposes it. */
export interface ForwardPass {
  readonly input: Tensor4D;
  readonly logits: Tensor2D;
  /** The output A of a target layer, [N, h, w, C] (N = the input's batch). */
  activation(layer: string): Tensor4D;
  dispose(): void;
}

export interface GradientRequest {
  /** d(score)/d(logits), numClasses values per image of the pass (row-major), or numClasses for image 0
   *  alone: a class's logit is the one-hot vector; softmax or a custom score differentiate only the head
   *  (tf.grad on the logits) to get it. Images do not mix, so one pass explains each image's own target. */
  readonly seed: Float32Array;
  readonly layers: readonly string[];
  readonly guided: boolean;
  /** Also return the gradient with respect to the (normalised) input. */
  readonly toInput: boolean;
  /** FullGrad: also return, for every op with a 2-D bias (conv with bias, BatchNorm shift; ResNet's folded
   *  BN biases), the gradient at that op's output and the bias vector. */
  readonly biasGradients?: boolean;
}

export interface BiasGradient {
  readonly bias: Float32Array;
  /** d(score) / d(output of the op that adds `bias`), NHWC [N, h, w, bias.length]. */
  readonly grad: Tensor4D;
}

export interface Gradients {
  /** d(score) / d(activation of each requested layer), NHWC. */
  readonly layers: Record<string, Tensor4D>;
  readonly input: Tensor4D | undefined;
  /** With biasGradients: one entry per biased op, in no particular order. */
  readonly biases?: readonly BiasGradient[];
}

/** Every tensor a Gradients holds. */
export const gradientTensors = (g: Gradients): Tensor4D[] => [...Object.values(g.layers), ...(g.input ? [g.input] : []), ...(g.biases ?? []).map((b) => b.grad)];

/**
 * A model the engine can explain: one forward pass, then gradient passes that reuse it.
 * Implementations own how the backward pass is computed (manual for ResNet, tf.grad for layers models).
 */
export interface ExplainableModel {
  readonly layers: readonly string[];
  /** What explain() uses when no layers are given. */
  readonly defaultLayers: readonly string[];
  readonly numClasses: number;
  /** Class names, when known. */
  readonly labels: readonly string[] | undefined;
  readonly minInputSize: number;
  /** [height, width] when the model accepts only that input size. */
  readonly requiredInputSize?: readonly [number, number];
  /** Whether `name` is a layer, including names not listed in `layers` (an ONNX graph's raw value names). */
  hasLayer?(name: string): boolean;
  /** One forward pass; `layers` are the layers whose activations the caller will read (default: the listed ones). */
  forward(input: Tensor4D, layers?: readonly string[]): ForwardPass;
  gradients(pass: ForwardPass, request: GradientRequest): Gradients;
  /** Several gradient passes over one forward pass, as gradients() one by one would give them (a model may run them together). */
  gradientPasses?(pass: ForwardPass, requests: readonly GradientRequest[]): Gradients[];
  /** Logits [N, numClasses] of a batch, keeping nothing for gradients (ScoreCAM's masked inputs). The caller
   *  disposes the result (by hand: it is kept out of any enclosing tf.tidy). */
  logits(input: Tensor4D): Tensor2D;
  /** Logits [N, numClasses] computed from a target layer's activations [N, h, w, C]: only the network above
   *  that layer runs (AblationCAM). The caller disposes the result (by hand, as logits()'). */
  logitsFrom(layer: string, activations: Tensor4D): Tensor2D;
  /** A call's tensor memory, computed without running it (the QueuedEngine's budget); absent: measured by probe calls. */
  callMemory?(request: CallMemoryRequest): CallMemory;
  dispose(): void;
}

/** What a call runs: one forward pass keeping `layers`, then these gradient passes (their gradients held to the end). */
export interface CallMemoryRequest {
  readonly layers: readonly string[];
  readonly passes: readonly Omit<GradientRequest, 'seed' | 'guided'>[];
}
