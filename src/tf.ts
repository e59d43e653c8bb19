// The one place that imports TensorFlow.js, so every module shares one engine instance.
export * as tf from '@tensorflow/tfjs-core';
export type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
