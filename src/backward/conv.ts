import { tf, type Tensor4D } from '../tf.js';

/** A convolution's geometry: square kernel, symmetric padding, equal strides (all ResNet needs). */
export interface ConvGeometry {
  readonly kernel: number;
  readonly stride: number;
  readonly pad: number;
}

export const convOutputSize = (n: number, g: ConvGeometry): number => Math.floor((n + 2 * g.pad - g.kernel) / g.stride) + 1;

export const explicitPad = (p: number): [[0, 0], [number, number], [number, number], [0, 0]] => [[0, 0], [p, p], [p, p], [0, 0]];

/**
 * The filter that turns the input-gradient of a convolution into a forward convolution:
 * spatially flipped, with input and output channels swapped (HWIO -> HW O I).
 */
export function backwardFilter(filterHWIO: Tensor4D): Tensor4D {
  return tf.tidy(() => tf.transpose(tf.reverse(filterHWIO, [0, 1]), [0, 1, 3, 2]));
}

/** Inserts (stride - 1) zeros after every row and column: [1,h,w,c] -> [1,h*s,w*s,c]. */
function zeroInsert(dy: Tensor4D, s: number): Tensor4D {
  const [n, h, w, c] = dy.shape;
  const cols = tf.pad(tf.reshape(dy, [n * h, w, 1, c]), [[0, 0], [0, 0], [0, s - 1], [0, 0]]);
  const rows = tf.pad(tf.reshape(cols, [n * h, 1, w * s, c]), [[0, 0], [0, s - 1], [0, 0], [0, 0]]);
  return tf.reshape(rows, [n, h * s, w * s, c]);
}

/**
 * d(loss)/d(input) of a convolution, given d(loss)/d(output), computed as an ordinary forward
 * convolution so that it runs on XNNPACK instead of the backend's naive Conv2DBackpropInput.
 * inH/inW are the forward input's spatial size (stride 2 loses it).
 */
export function convInputGrad(dy: Tensor4D, backFilter: Tensor4D, g: ConvGeometry, inH: number, inW: number): Tensor4D {
  return tf.tidy(() => {
    const s = g.stride;
    const lead = g.kernel - 1 - g.pad;
    let x: Tensor4D = s === 1 ? dy : zeroInsert(dy, s);
    const [, h, w] = x.shape;
    // Trailing padding so that the valid convolution yields exactly inH x inW; negative means crop.
    const tailH = inH + g.kernel - 1 - lead - h;
    const tailW = inW + g.kernel - 1 - lead - w;
    if (tailH < 0 || tailW < 0) {
      x = tf.slice(x, [0, 0, 0, 0], [-1, h + Math.min(tailH, 0), w + Math.min(tailW, 0), -1]);
    }
    return tf.conv2d(x, backFilter, 1, [[0, 0], [lead, Math.max(tailH, 0)], [lead, Math.max(tailW, 0)], [0, 0]]);
  });
}
