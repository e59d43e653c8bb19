// A consumer of the installed tarball: typechecked with skipLibCheck: false under NodeNext, bundler
// and node10 resolution (test/package/tarball.test.ts), then run.
import { createExplainer, topK, GradcamError, type Explanation, type Pixels, type CreateExplainerOptions } from 'gradcam-wasm';
import { DEFAULT_RESNET34, defaultResnet34WeightsFile, type HubOptions } from 'gradcam-wasm/weights';

export async function run(model: string): Promise<string> {
  const options: CreateExplainerOptions = { model, preprocess: 'tf', threads: 1 };
  const explainer = await createExplainer(options);
  const pixels: Pixels = { data: new Uint8Array(32 * 32 * 4).fill(200), width: 32, height: 32 };
  const e: Explanation = await explainer.explain(pixels, { guided: true });
  const top = topK(e.logits, 1, explainer.labels)[0]!;
  explainer.dispose();
  const hub: HubOptions = { offline: true };
  const weights: (o?: HubOptions) => Promise<string> = defaultResnet34WeightsFile;
  const code: string = new GradcamError('UNSUPPORTED', 'x').code;
  return [`${e.width}x${e.height}`, `class ${top.index}`, Object.keys(e.cams).join(','), e.guided!.length, typeof weights, hub.offline, DEFAULT_RESNET34.revision.length, code].join(' ');
}
