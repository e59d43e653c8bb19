import type { Tensor2D, Tensor4D } from '../tf.js';

/** The tensors of one forward pass that later gradient passes and CAMs read; the caller disposes it. */
export interface ForwardPass {
  readonly input: Tensor4D;
  readonly logits: Tensor2D;
  /** The output A of a target layer, [1, h, w, C]. */
  activation(layer: string): Tensor4D;
  dispose(): void;
}

export interface GradientRequest {
  readonly target: number;
  readonly layers: readonly string[];
  readonly guided: boolean;
  /** Also return the gradient with respect to the (normalised) input. */
  readonly toInput: boolean;
}

export interface Gradients {
  /** d(logit[target]) / d(activation of each requested layer), NHWC. */
  readonly layers: Record<string, Tensor4D>;
  readonly input: Tensor4D | undefined;
}

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
  forward(input: Tensor4D): ForwardPass;
  gradients(pass: ForwardPass, request: GradientRequest): Gradients;
  dispose(): void;
}
