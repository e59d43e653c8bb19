import type { OpRegistry } from './types.js';
import { conv } from './conv.js';
import { relu } from './relu.js';
import { clip } from './clip.js';
import { erf, exp, hardSigmoid, hardSwish, neg, sigmoid, sqrt, tanh } from './unary.js';
import { add, div, mul, pow, sub } from './binary.js';
import { batchNormalization } from './batchnorm.js';
import { averagePool, globalAveragePool, maxPool } from './pool.js';
import { gemm, matMul } from './gemm.js';
import { flatten, identity, reshape, squeeze, unsqueeze } from './reshape.js';
import { concat, split } from './concat.js';
import { slice } from './slice.js';
import { transpose } from './transpose.js';
import { pad } from './pad.js';
import { softmax } from './softmax.js';
import { reduceMean } from './reduce-mean.js';
import { layerNormalization } from './layer-norm.js';
import { cast, constant, constantOfShape, gather, range, shape } from './shape.js';

/** Every op type the engine runs, by its ONNX name (the graph's op vocabulary, whatever the importer). */
export const OPS: OpRegistry = Object.freeze({
  Conv: conv,
  Relu: relu,
  Clip: clip,
  Sigmoid: sigmoid,
  Tanh: tanh,
  Sqrt: sqrt,
  Exp: exp,
  Neg: neg,
  Erf: erf,
  HardSigmoid: hardSigmoid,
  HardSwish: hardSwish,
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Pow: pow,
  BatchNormalization: batchNormalization,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  Gemm: gemm,
  MatMul: matMul,
  Reshape: reshape,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Identity: identity,
  Dropout: identity,
  Concat: concat,
  Split: split,
  Slice: slice,
  Transpose: transpose,
  Pad: pad,
  Softmax: softmax,
  ReduceMean: reduceMean,
  LayerNormalization: layerNormalization,
  Shape: shape,
  Constant: constant,
  Gather: gather,
  Cast: cast,
  ConstantOfShape: constantOfShape,
  Range: range,
});
