import { InvalidInputError } from '../errors.js';
import { overWhite } from './alpha.js';

/** RGB or RGBA pixels, row-major, 8 bits per channel. RGBA is composited over white (as the CLI's decoder does). */
export interface Pixels {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/** A normalised tensor as PyTorch takes it: [1, 3, H, W] (or [3, H, W]), float32. */
export interface NchwTensor {
  readonly tensor: Float32Array;
  readonly shape: readonly number[];
}

export type ModelInput = Pixels | NchwTensor;

/** 'imagenet': (x/255 - mean) / std (torchvision); 'tf': x/127.5 - 1 (Keras MobileNet). */
export type Preprocessing = 'imagenet' | 'tf';

const MEAN = [0.485, 0.456, 0.406].map(Math.fround);
const STD = [0.229, 0.224, 0.225].map(Math.fround);

export function channelsOf(px: Pixels): 3 | 4 {
  const { data, width, height } = px;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw new InvalidInputError(`image size ${width}x${height} is not a positive integer size`);
  }
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw new InvalidInputError('pixel data must be a Uint8Array or Uint8ClampedArray');
  }
  const ch = data.length / (width * height);
  if (ch !== 3 && ch !== 4) {
    throw new InvalidInputError(`pixel data has ${data.length} bytes; a ${width}x${height} image needs ${width * height * 3} (RGB) or ${width * height * 4} (RGBA)`);
  }
  return ch;
}

/** Pixels -> normalised NHWC float32 (alpha over white), every step rounded to float32 as torchvision does. */
export function normalizePixels(px: Pixels, mode: Preprocessing = 'imagenet'): Float32Array {
  const ch = channelsOf(px);
  const n = px.width * px.height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = ch === 4 ? px.data[i * 4 + 3]! : 255;
    for (let c = 0; c < 3; c++) {
      const v = overWhite(px.data[i * ch + c]!, a);
      out[i * 3 + c] = mode === 'imagenet' ? Math.fround(Math.fround(v / 255) - MEAN[c]!) / STD[c]! : v / 127.5 - 1;
    }
  }
  return out;
}

/** Checks a [1,3,H,W] / [3,H,W] float32 tensor and returns it as NHWC with its size. */
export function nchwToNhwc(input: NchwTensor): { data: Float32Array; height: number; width: number } {
  const { tensor, shape } = input;
  if (!(tensor instanceof Float32Array)) throw new InvalidInputError('input tensor must be a Float32Array (float32)');
  const dims = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape;
  if (dims.length !== 3 || dims[0] !== 3 || !dims.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new InvalidInputError(`input tensor shape [${shape.join(', ')}] is not [1, 3, H, W] or [3, H, W]`);
  }
  const [, height, width] = dims as [number, number, number];
  if (tensor.length !== 3 * height * width) {
    throw new InvalidInputError(`input tensor has ${tensor.length} values but shape [${shape.join(', ')}] needs ${3 * height * width}`);
  }
  assertFinite(tensor, 'input tensor');
  const plane = height * width;
  const data = new Float32Array(tensor.length);
  for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) data[i * 3 + c] = tensor[c * plane + i]!;
  return { data, height, width };
}

export function assertFinite(data: Float32Array, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new InvalidInputError(`${what} contains ${data[i]} at flat index ${i}`);
  }
}
