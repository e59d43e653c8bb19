import type { Kernels } from '../kernels/types.js';
import type { Tensor2D, Tensor4D } from '../tf.js';
import type { ExplainableModel } from '../models/types.js';

/** One target layer's float32 arrays, NHWC flattened to [positions, channels]. */
export interface LayerArrays {
  readonly activations: Float32Array;
  /** d(score)/d(activations); empty for methods that need no gradient. */
  readonly gradients: Float32Array;
  readonly positions: number;
  readonly channels: number;
}

/** What methods that rerun the network (AblationCAM, ScoreCAM) get besides the layer's arrays. */
export interface RerunContext {
  readonly model: ExplainableModel;
  readonly layer: string;
  /** The normalised input of the explained pass, [1, H, W, 3]. */
  readonly input: Tensor4D;
  /** The layer's activations, [1, h, w, C]. */
  readonly activation: Tensor4D;
  /** The explained pass's logits, [1, numClasses]. */
  readonly logits: Tensor2D;
  /** The target's score of every row of a batch of logits [N, numClasses]. */
  scores(logits: Tensor2D): Float32Array;
  /** Reports `count` more channels done; yields to the event loop and throws AbortError once aborted. */
  advance(count: number): Promise<void>;
}

/** FullGrad's arrays: the input and its gradient (HWC), and every bias with the gradient at its op's output. */
export interface WholeModelArrays {
  readonly input: Float32Array;
  readonly inputGradient: Float32Array;
  readonly width: number;
  readonly height: number;
  readonly biases: readonly { readonly bias: Float32Array; readonly grad: Float32Array; readonly width: number; readonly height: number }[];
}

/**
 * A CAM method, split as pytorch-grad-cam's BaseCAM does: most methods only say how to weight the
 * channels; element-wise methods override the whole map instead. The engine applies ReLU, scaling,
 * resizing and layer aggregation the same way for all.
 */
export interface CamMethod {
  readonly name: string;
  readonly needsGradients: boolean;
  /** Channel weights w_c; the map is then max(0, sum_c w_c A_c) (or its first principal component with eigenSmooth). */
  channelWeights?(layer: LayerArrays, kernels: Kernels, rerun: RerunContext): Float32Array | Promise<Float32Array>;
  /** Element-wise methods: the terms T[p, c] whose sum over channels is the map (eigenSmooth projects them instead). */
  terms?(layer: LayerArrays): Float32Array;
  /** The raw map max(0, ...) at the layer's resolution, for methods that are neither (eigenSmooth does not apply). */
  camImage?(layer: LayerArrays, kernels: Kernels): Float32Array;
  /** Methods with no target layer (FullGrad): the normalised map at input resolution from gradients at every bias. */
  wholeModel?(arrays: WholeModelArrays, kernels: Kernels): Float32Array;
  /** Rerun methods: each channel of a layer is one unit of progress. */
  readonly reruns?: boolean;
}
