import { InvalidInputError } from '../errors.js';
import { normalizePixels, type NchwTensor, type Pixels, type Preprocessing } from '../image/preprocess.js';

/** A checked normalised input: CHW float32 and its sizes. */
export interface ChwImage {
  readonly data: Float32Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** Checks a normalised [1, C, H, W] / [C, H, W] float32 tensor and a [H, W] map of finite values. */
export function checkInputAndMap(input: NchwTensor, map: Float32Array): ChwImage {
  if (input === null || typeof input !== 'object' || !(input.tensor instanceof Float32Array) || !Array.isArray(input.shape)) {
    throw new InvalidInputError('metrics take the normalised input as { tensor: Float32Array, shape: [1, C, H, W] }');
  }
  const dims = input.shape.length === 4 && input.shape[0] === 1 ? input.shape.slice(1) : input.shape;
  if (dims.length !== 3 || !dims.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new InvalidInputError(`input tensor shape [${input.shape.join(', ')}] is not [1, C, H, W] or [C, H, W]`);
  }
  const [channels, height, width] = dims as [number, number, number];
  if (input.tensor.length !== channels * height * width) {
    throw new InvalidInputError(`input tensor has ${input.tensor.length} values; shape [${input.shape.join(', ')}] needs ${channels * height * width}`);
  }
  if (!(map instanceof Float32Array)) throw new InvalidInputError('the map must be a Float32Array');
  if (map.length !== height * width) throw new InvalidInputError(`the map has ${map.length} values; a ${width}x${height} input needs ${height * width}`);
  for (const v of map) if (!Number.isFinite(v)) throw new InvalidInputError('the map contains NaN or Inf');
  for (const v of input.tensor) if (!Number.isFinite(v)) throw new InvalidInputError('the input tensor contains NaN or Inf');
  return { data: input.tensor, channels, height, width };
}

/** RGB(A) pixels as the normalised [1, 3, H, W] tensor a model sees (the explainer's preprocessing, given here). */
export function pixelsToTensor(pixels: Pixels, preprocess: Preprocessing = 'imagenet'): NchwTensor {
  const hwc = normalizePixels(pixels, preprocess);
  const { width, height } = pixels;
  const plane = width * height;
  const tensor = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) tensor[c * plane + i] = hwc[i * 3 + c]!;
  return { tensor, shape: [1, 3, height, width] };
}
