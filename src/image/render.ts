import type { Kernels } from '../kernels/types.js';
import { jetLut } from './colormap.js';
import { deprocessImage } from './deprocess.js';
import type { Pixels } from './preprocess.js';

const LUT = jetLut();

/** A [0,1] map of width*height resized (bilinear) to an image's size. */
function mapAt(kernels: Kernels, map: Float32Array, width: number, height: number, to: Pixels): Float32Array {
  return width === to.width && height === to.height ? map : kernels.resizeBilinear(map, height, width, to.height, to.width, 1);
}

/** The Grad-CAM overlay on the (original-resolution) image, as pytorch-grad-cam's show_cam_on_image draws it. */
export function renderOverlay(kernels: Kernels, image: Pixels, map: Float32Array, width: number, height: number, imageWeight = 0.5): Pixels {
  const rgb = image.data instanceof Uint8Array ? image.data : new Uint8Array(image.data);
  return { data: kernels.colormapOverlay(rgb, mapAt(kernels, map, width, height, image), LUT, imageWeight), width: image.width, height: image.height };
}

/** The map alone in the JET colours. */
export function renderHeatmap(kernels: Kernels, map: Float32Array, width: number, height: number): Pixels {
  return { data: kernels.colormapOverlay(new Uint8Array(width * height * 3), map, LUT, 0), width, height };
}

/** A guided gradient (HWC float) made visible with pytorch-grad-cam's deprocess_image. */
export function renderGuided(gradient: Float32Array, width: number, height: number): Pixels {
  return { data: deprocessImage(gradient), width, height };
}
