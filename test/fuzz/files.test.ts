import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { createExplainer, decodeImage, decodeNpy, encodeNpy, encodeSafetensors, GradcamError, parseSafetensors } from '../../src/index.js';
import { loadKerasArtifacts } from '../../src/models/keras/loader.js';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/runtime/index.js';
import { randomArray, rng } from '../helpers/random-weights.js';
import { tinyKerasModel } from '../helpers/tiny-keras.js';

/**
 * Bounded fuzzing: 200 mutations of each file kind from a fixed seed. Every case must end in a
 * GradcamError or a valid result: no other exception (a crash), no wasm abort, no hang (each case is
 * timed), no tensor left behind and no runaway memory. A failure names the case's seed to replay it.
 */
const CASES = 200;
const CASE_LIMIT_MS = 10_000; // a hang guard, not a performance check
const dir = mkdtempSync(join(tmpdir(), 'gradcam-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Byte-level damage: flips, truncation, insertion, extreme integers, repeated chunks. */
function mutate(bytes: Uint8Array, r: () => number): Uint8Array {
  const out = Array.from(bytes);
  const at = () => Math.floor(r() * out.length);
  for (let k = 1 + Math.floor(r() * 4); k > 0; k--) {
    const op = Math.floor(r() * 6);
    if (op === 0) out[at()] = Math.floor(r() * 256);
    else if (op === 1) out[at()] ^= 1 << Math.floor(r() * 8);
    else if (op === 2) out.length = at();
    else if (op === 3) out.splice(at(), 0, ...Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256)));
    else if (op === 4) out.splice(at(), 4, ...[[0, 0, 0, 0], [255, 255, 255, 255], [255, 255, 255, 127], [0, 0, 0, 128]][Math.floor(r() * 4)]!);
    else {
      const from = at();
      out.splice(at(), 0, ...out.slice(from, from + 1 + Math.floor(r() * 64)));
    }
  }
  return new Uint8Array(out);
}

/** Structure-level damage to a JSON value: a random node replaced, removed or duplicated. */
function mutateJson(value: unknown, r: () => number): unknown {
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      nodes.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k });
      walk(child);
    }
  };
  const copy = structuredClone(value);
  walk(copy);
  const replacements = [null, 0, -1, 1, 2.5, 1e9, -1e9, '', 'x', 'same', 'valid', true, [], {}, [null], [0, 0], [-1], [1, 1, 1]];
  for (let k = 1 + Math.floor(r() * 3); k > 0 && nodes.length > 0; k--) {
    const { parent, key } = nodes[Math.floor(r() * nodes.length)]!;
    const p = parent as Record<string | number, unknown>;
    const op = r();
    if (op < 0.6) p[key] = structuredClone(replacements[Math.floor(r() * replacements.length)]);
    else if (op < 0.8) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
    } else if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(parent[key as number]));
    else p[`${String(key)}_`] = p[key];
  }
  return copy;
}

interface Outcome {
  ok: number;
  typed: number;
}

async function fuzz(name: string, seed: number, base: Uint8Array, attempt: (bytes: Uint8Array, r: () => number) => Promise<unknown>): Promise<Outcome> {
  const outcome = { ok: 0, typed: 0 };
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < CASES; i++) {
    const r = rng(seed * 1000 + i);
    const start = performance.now();
    try {
      await attempt(mutate(base, r), r);
      outcome.ok++;
    } catch (err) {
      if (!(err instanceof GradcamError)) throw new Error(`${name} case ${i} (seed ${seed * 1000 + i}): untyped ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
      outcome.typed++;
    }
    expect(performance.now() - start, `${name} case ${i} took too long (a hang?)`).toBeLessThan(CASE_LIMIT_MS);
  }
  expect(tf.memory().numTensors, `${name}: tensors left behind`).toBe(tensors);
  return outcome;
}

describe('fuzzing: 200 mutated files of each kind end in a typed error or a valid result', () => {
  let rssStart = 0;
  beforeAll(async () => {
    await initBackend();
    rssStart = process.memoryUsage().rss;
  });
  afterAll(() => {
    // Mutated headers may claim huge sizes; none of them may make the process balloon.
    expect(process.memoryUsage().rss - rssStart).toBeLessThan(512 * 2 ** 20);
  });

  test('safetensors', async () => {
    const base = encodeSafetensors({
      'conv.weight': { dtype: 'F32', shape: [4, 3, 3, 3], data: new Uint8Array(randomArray(108, 1).buffer) },
      'bn.running_var': { dtype: 'F16', shape: [4], data: new Uint8Array(8).fill(0x3c) },
      'fc.bias': { dtype: 'BF16', shape: [2, 5], data: new Uint8Array(20).fill(0x3f) },
      steps: { dtype: 'I64', shape: [], data: new Uint8Array(8) },
    }, { format: 'pt' });
    const o = await fuzz('safetensors', 1, base, async (bytes) => {
      const file = parseSafetensors(bytes);
      for (const [key, info] of file.tensors) if (info.dtype !== 'I64') expect(file.float32(key).length).toBe(info.shape.reduce((a, b) => a * b, 1));
    });
    expect(o.typed).toBeGreaterThan(CASES / 4);
  });

  test('.npy', async () => {
    const base = encodeNpy(randomArray(3 * 8 * 8, 2), [1, 3, 8, 8]);
    const o = await fuzz('npy', 2, base, async (bytes) => {
      const npy = decodeNpy(bytes);
      expect(npy.data.length).toBe(npy.shape.reduce((a, b) => a * b, 1));
    });
    expect(o.typed).toBeGreaterThan(CASES / 4);
  });

  const checkPixels = (px: { data: Uint8Array | Uint8ClampedArray; width: number; height: number }) => expect(px.data.length).toBe(px.width * px.height * 3);

  test('PNG', async () => {
    const png = new PNG({ width: 16, height: 12 });
    png.data.set(new Uint8Array(16 * 12 * 4).map((_, i) => (i * 37) % 256));
    const o = await fuzz('png', 3, new Uint8Array(PNG.sync.write(png)), async (bytes) => checkPixels(await decodeImage(bytes, 1_000_000)));
    expect(o.typed).toBeGreaterThan(CASES / 4);
  });

  test('JPEG', async () => {
    const data = new Uint8Array(16 * 12 * 4).map((_, i) => (i * 53) % 256);
    const o = await fuzz('jpeg', 4, new Uint8Array(jpeg.encode({ data, width: 16, height: 12 }, 90).data), async (bytes) => checkPixels(await decodeImage(bytes, 1_000_000)));
    expect(o.ok + o.typed).toBe(CASES);
  });

  test('model.json (structure and bytes); models that load are explained', async () => {
    const tiny = tinyKerasModel();
    const text = new TextEncoder().encode(JSON.stringify(tiny.json));
    let explained = 0;
    const o = await fuzz('model.json', 5, text, async (bytes, r) => {
      // Three in four cases damage the structure (valid JSON), the others the bytes.
      const json = r() < 0.75 ? new TextEncoder().encode(JSON.stringify(mutateJson(tiny.json, r))) : bytes;
      const folder = join(dir, `m${Math.floor(r() * 1e9)}`);
      mkdirSync(folder);
      writeFileSync(join(folder, 'model.json'), json);
      writeFileSync(join(folder, 'w.bin'), tiny.bin);
      await loadKerasArtifacts(join(folder, 'model.json'));
      const ex = await createExplainer({ model: join(folder, 'model.json') });
      try {
        const e = await ex.explain({ data: new Uint8Array(32 * 32 * 3).fill(90), width: 32, height: 32 }, { guided: true });
        expect(e.logits.every(Number.isFinite)).toBe(true);
        explained++;
      } finally {
        ex.dispose();
      }
    });
    expect(o.typed).toBeGreaterThan(CASES / 4);
    expect(explained).toBeGreaterThan(0);
  });
});
