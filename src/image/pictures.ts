import type { Explanation } from '../explainer.js';
import type { Kernels } from '../kernels/types.js';
import type { Prediction } from '../predictions.js';
import { renderFigure } from './figure.js';
import type { Pixels } from './preprocess.js';
import { renderGuided, renderHeatmap, renderOverlay } from './render.js';

/** How a layer appears in picture names (the CLI makes ONNX value names safe for file names). */
export type LayerNames = ReadonlyMap<string, string>;
const named = (names: LayerNames | undefined, layer: string): string => names?.get(layer) ?? layer;

/** Every picture of an explanation, by file name: overlays on `image` (when given), heatmaps, guided pictures. */
export function explanationPictures(kernels: Kernels, e: Explanation, image: Pixels | undefined, names?: LayerNames): Map<string, Pixels> {
  const out = new Map<string, Pixels>();
  for (const [layer, cam] of Object.entries(e.cams)) {
    if (image) out.set(`gradcam-${named(names, layer)}.png`, renderOverlay(kernels, image, cam.map, e.width, e.height));
    out.set(`heatmap-${named(names, layer)}.png`, renderHeatmap(kernels, cam.map, e.width, e.height));
  }
  if (e.guided) {
    out.set('guided-backprop.png', renderGuided(e.guided, e.width, e.height));
    for (const [layer, g] of Object.entries(e.guidedGradCam ?? {})) out.set(`guided-gradcam-${named(names, layer)}.png`, renderGuided(g, e.width, e.height));
  }
  return out;
}

/** The figure (PNG bytes) from the pictures already drawn; only the overlays are redrawn, at the model's input size. */
export async function explanationFigure(
  kernels: Kernels,
  e: Explanation,
  drawn: Map<string, Pixels>,
  modelImage: Pixels | undefined,
  target: Prediction,
  names?: LayerNames,
): Promise<Uint8Array> {
  const name = target.label ?? `class ${target.index}`;
  const header = `${name} (class ${target.index}, p = ${target.probability.toFixed(3)})`;
  const input = modelImage ?? renderHeatmap(kernels, new Float32Array(e.width * e.height), e.width, e.height);
  const columns = [
    { title: 'input', top: input, bottom: drawn.get('guided-backprop.png') },
    ...Object.entries(e.cams).map(([layer, cam]) => ({
      title: layer,
      top: modelImage ? renderOverlay(kernels, modelImage, cam.map, e.width, e.height) : drawn.get(`heatmap-${named(names, layer)}.png`)!,
      bottom: drawn.get(`guided-gradcam-${named(names, layer)}.png`),
    })),
  ];
  return renderFigure(header, columns);
}
