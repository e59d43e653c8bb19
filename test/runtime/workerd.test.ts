import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createExplainer, decodeImage, loadKernels, renderOverlay, resizeRgbPillowBilinear } from '../../src/index.js';
import { ASSETS, hasMobilenet, hasReference, missingReason } from '../helpers/assets.js';
import { ALL_LAYERS, checkGuided, checkLayer, checkLogits, REF_INPUTS, REF_TARGETS, refInput } from '../helpers/reference-check.js';
import { maxAbsDiff } from '../helpers/metrics.js';
import { hasZoo, zooMissingReason } from '../helpers/zoo.js';
import { checkRuntimeCase, RUNTIME_CASE } from '../helpers/zoo-runtime.js';

const examples = join(import.meta.dirname, '../../examples');
// @ts-expect-error plain JS helper shared with the benchmark
const { startLocalEdge } = await import('../../examples/edge-worker/local.mjs');

/** examples/edge-worker in Cloudflare's workerd on 127.0.0.1: POST an image, get the overlay PNG. */
describe.skipIf(!hasMobilenet)(`edge worker in workerd${hasMobilenet ? '' : ` (skipped: ${missingReason})`}`, () => {
  let edge: { url: string; stop(): Promise<void> };
  beforeAll(async () => {
    edge = await startLocalEdge({ serveDir: join(ASSETS, 'models/mobilenet_v1_0.75_224') });
  }, 120_000);
  afterAll(() => edge?.stop());

  test('the overlay equals the one Node computes; the class is right', async () => {
    const photo = new Uint8Array(readFileSync(join(examples, 'coffee.png')));
    const res = await fetch(edge.url, { method: 'POST', body: photo });
    expect(res.status, await res.clone().text().catch(() => '')).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-label')).toBe('espresso');
    expect(res.headers.get('x-cold-start')).toBe('true');
    const fromEdge = await decodeImage(new Uint8Array(await res.arrayBuffer()));
    expect([fromEdge.width, fromEdge.height]).toEqual([600, 400]);

    const ex = await createExplainer({ model: join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json'), preprocess: 'tf' });
    const image = await decodeImage(photo);
    const e = await ex.explain(resizeRgbPillowBilinear(image, 224, 224));
    const node = renderOverlay(await loadKernels(), image, e.combined, e.width, e.height);
    ex.dispose();
    let differing = 0;
    let worst = 0;
    for (let i = 0; i < node.data.length; i++) {
      const d = Math.abs(node.data[i]! - fromEdge.data[i]!);
      if (d) differing++;
      worst = Math.max(worst, d);
    }
    // Maps equal within float rounding: a uint8 level flips only where a value sits on a boundary.
    expect(differing / node.data.length).toBeLessThan(0.001);
    expect(worst).toBeLessThanOrEqual(1);

    const warm = await fetch(edge.url, { method: 'POST', body: photo });
    expect(warm.headers.get('x-cold-start')).toBe('false');
    await warm.arrayBuffer();
  });

  test('bad requests get a clear status', async () => {
    const bad = await fetch(edge.url, { method: 'POST', body: 'not an image' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/ImageDecodeError: not a PNG or JPEG image/);
    expect((await fetch(edge.url)).status).toBe(405);
  });
});

/** The engine's parity suite through the public API inside workerd (single-threaded SIMD build). */
describe.skipIf(!hasReference)(`parity suite in workerd${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  let edge: { url: string; stop(): Promise<void> };
  beforeAll(async () => {
    edge = await startLocalEdge({ serveDir: ASSETS, entry: join(import.meta.dirname, 'workerd-parity-worker.js') });
  }, 120_000);
  afterAll(() => edge?.stop());
  const f32 = (b64: string) => {
    const bytes = Buffer.from(b64, 'base64');
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  };

  test('3 inputs x 2 targets against pytorch-grad-cam, and equal to Node within 1e-5', async () => {
    const node = await createExplainer({ weights: join(ASSETS, 'reference/resnet34-seed1.safetensors') });
    for (const input of REF_INPUTS) {
      for (const t of REF_TARGETS) {
        const res = await fetch(`${edge.url}?input=${input.name}&target=${t}`);
        expect(res.status, await res.clone().text().then((s) => s.slice(0, 300))).toBe(200);
        const c = (await res.json()) as { runtime: { threads: number; heapKernels: boolean; gemmThreads: number }; logits: string; maps: Record<string, string>; raws: Record<string, { data: string; shape: number[] }>; guided: string; guidedGradCam: Record<string, string> };
        expect(c.runtime.threads).toBe(1);
        expect(c.runtime.heapKernels).toBe(true);
        expect(c.runtime.gemmThreads).toBe(1);
        const logits = f32(c.logits);
        checkLogits(input, logits);
        checkGuided(input.name, t, f32(c.guided));
        for (const layer of ALL_LAYERS) {
          checkLayer(input.name, t, layer, { logits, map: (l) => f32(c.maps[l]!), raw: (l) => ({ data: f32(c.raws[l]!.data), shape: c.raws[l]!.shape }), guidedGradCam: (l) => f32(c.guidedGradCam[l]!) });
        }
        const e = await node.explain(refInput(input.name), { layers: ALL_LAYERS, target: t === 'c281' ? 281 : undefined });
        for (const layer of ALL_LAYERS) expect(maxAbsDiff(f32(c.maps[layer]!), e.cams[layer]!.map), `${input.name}/${t}/${layer}`).toBeLessThanOrEqual(1e-5);
      }
    }
    node.dispose();
  });

  test.skipIf(!hasZoo)(`an ONNX zoo model (${RUNTIME_CASE.arch}) like Node and pytorch-grad-cam${hasZoo ? '' : ` (skipped: ${zooMissingReason})`}`, async () => {
    const { file, input, layer } = RUNTIME_CASE;
    const res = await fetch(`${edge.url}?${new URLSearchParams({ onnx: file, input, layer })}`);
    expect(res.status, await res.clone().text().then((s) => s.slice(0, 300))).toBe(200);
    const c = (await res.json()) as { runtime: { threads: number; heapKernels: boolean }; labels: number; logits: string; map: string; guided: string };
    expect(c.runtime.threads).toBe(1);
    expect(c.runtime.heapKernels).toBe(true);
    expect(c.labels).toBe(1000); // ImageNet's names: no labels file beside the model
    await checkRuntimeCase({ logits: f32(c.logits), map: f32(c.map), guided: f32(c.guided) });
  }, 120_000);
});
