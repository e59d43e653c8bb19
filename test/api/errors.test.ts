import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createExplainer, DisposedError, FileNotFoundError, GradcamError, ImageDecodeError, InvalidInputError,
  LayerNotFoundError, TargetOutOfRangeError, WeightsError, type Explainer,
} from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { encodeNpy } from '../../src/io/npy.js';
import { randomResnet34Weights } from '../helpers/random-weights.js';

const tensor = (h: number, w: number, fill = 0.5) => ({ tensor: new Float32Array(3 * h * w).fill(fill), shape: [1, 3, h, w] });

describe('bad input gets a typed error naming the problem', () => {
  let ex: Explainer;
  beforeAll(async () => {
    ex = await createExplainer({ weights: randomResnet34Weights() });
  });
  afterAll(() => ex.dispose());

  test('unknown layer', async () => {
    const err = await ex.explain(tensor(64, 64), { layers: ['layer5'] }).catch((e) => e);
    expect(err).toBeInstanceOf(LayerNotFoundError);
    expect(err.message).toBe("unknown layer 'layer5'; available layers: layer1, layer2, layer3, layer4");
    expect(err.code).toBe('LAYER_NOT_FOUND');
  });
  test('target out of range', async () => {
    for (const target of [1000, -1, 2.5, Number.NaN]) {
      await expect(ex.explain(tensor(64, 64), { target })).rejects.toThrow(TargetOutOfRangeError);
    }
    await expect(ex.explain(tensor(64, 64), { target: 1000 })).rejects.toThrow('target class 1000 is not an integer in [0, 999]');
  });
  test('wrong tensor shape or dtype', async () => {
    await expect(ex.explain({ tensor: new Float32Array(4 * 64 * 64), shape: [1, 4, 64, 64] })).rejects.toThrow(/shape \[1, 4, 64, 64\] is not \[1, 3, H, W\]/);
    await expect(ex.explain({ tensor: new Float32Array(10), shape: [1, 3, 64, 64] })).rejects.toThrow(/has 10 values but shape/);
    await expect(ex.explain({ tensor: new Float64Array(3 * 64 * 64) as unknown as Float32Array, shape: [1, 3, 64, 64] })).rejects.toThrow(/must be a Float32Array/);
    await expect(ex.explain({ data: new Uint8Array(10), width: 64, height: 64 })).rejects.toThrow(/needs 12288 \(RGB\) or 16384 \(RGBA\)/);
    await expect(ex.explain(null as never)).rejects.toThrow(InvalidInputError);
  });
  test('NaN or Inf in the input', async () => {
    const t = tensor(64, 64);
    t.tensor[100] = Number.NaN;
    await expect(ex.explain(t)).rejects.toThrow('input tensor contains NaN at flat index 100');
    t.tensor[100] = Number.POSITIVE_INFINITY;
    await expect(ex.explain(t)).rejects.toThrow(/contains Infinity/);
  });
  test('too small and too large inputs', async () => {
    await expect(ex.explain(tensor(31, 64))).rejects.toThrow('input 64x31 is too small; both sides must be at least 32');
    const small = await createExplainer({ weights: randomResnet34Weights(), maxInputPixels: 100 * 100 });
    await expect(small.explain(tensor(128, 128))).rejects.toThrow(/more than maxInputPixels \(10000\)/);
    small.dispose();
  });
  test('unknown method', async () => {
    await expect(ex.explain(tensor(64, 64), { method: 'nope' as never })).rejects.toThrow(/unknown method 'nope'; available: gradcam, gradcam\+\+/);
  });
  test('a failed call leaves the explainer usable', async () => {
    await ex.explain(tensor(64, 64), { layers: ['bad'] }).catch(() => undefined);
    const e = await ex.explain(tensor(64, 64), { layers: ['layer4'] });
    expect(e.cams.layer4!.map.length).toBe(64 * 64);
  });
  test('missing weights file, bad weights bytes, use after dispose', async () => {
    await expect(createExplainer({ weights: '/nonexistent/w.safetensors' })).rejects.toThrow(FileNotFoundError);
    await expect(createExplainer({ weights: new Uint8Array(3) })).rejects.toThrow(WeightsError);
    await expect(createExplainer({ weights: randomResnet34Weights(), model: 'vgg' as never })).rejects.toThrow(/unknown model 'vgg'/);
    const e2 = await createExplainer({ weights: randomResnet34Weights() });
    e2.dispose();
    await expect(e2.explain(tensor(64, 64))).rejects.toThrow(DisposedError);
  });
});

describe('CLI errors: exit codes and one-line messages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-err-'));
  const weights = join(dir, 'w.safetensors');
  beforeAll(() => writeFileSync(weights, randomResnet34Weights()));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (...argv: string[]) => {
    let stderr = '';
    let stdout = '';
    const code = await main(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
    return { code, stderr, stdout };
  };

  test('usage errors exit 2', async () => {
    expect((await run('explain', '--weights', weights)).stderr).toMatch(/explain needs at least one input file/);
    expect((await run('explain', '--weights', weights)).code).toBe(2);
    expect((await run('explain', 'x.png', '--weights', weights, '--model', 'm.json')).stderr).toMatch(/--weights is for ResNet34/);
    expect((await run('explain', 'x.png', '--preprocess', 'caffe')).code).toBe(2);
    expect((await run('frobnicate')).code).toBe(2);
    expect((await run('explain', 'a.npy', '--weights', weights, '--out', dir, '--target', ' ')).stderr).toMatch(/--target is empty/);
    expect((await run('explain', 'a.npy', '--weights', weights, '--out', dir, '--method', 'x')).code).toBe(2);
    expect((await run('explain', 'a.npy', '--weights', weights, '--out', dir, '--size', '7')).code).toBe(2);
  });

  const failures: [string, () => string[], RegExp][] = [
    ['missing input file', () => ['explain', join(dir, 'nope.png'), '--weights', weights, '--out', dir], /file not found: .*nope\.png \[FILE_NOT_FOUND\]/],
    ['missing weights file', () => ['explain', 'a.png', '--weights', join(dir, 'none.safetensors'), '--out', dir], /file not found/],
    ['undecodable image', () => {
      writeFileSync(join(dir, 'bad.png'), Buffer.from('\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x10garbage', 'latin1'));
      return ['explain', join(dir, 'bad.png'), '--weights', weights, '--out', dir];
    }, /cannot decode PNG image.*\[IMAGE_DECODE_ERROR\]/],
    ['not an image at all', () => {
      writeFileSync(join(dir, 'text.jpg'), 'hello');
      return ['explain', join(dir, 'text.jpg'), '--weights', weights, '--out', dir];
    }, /not a PNG or JPEG image/],
    ['unknown layer', () => {
      writeFileSync(join(dir, 't.npy'), encodeNpy(new Float32Array(3 * 64 * 64), [1, 3, 64, 64]));
      return ['explain', join(dir, 't.npy'), '--weights', weights, '--out', dir, '--layers', 'layer9'];
    }, /unknown layer 'layer9'/],
    ['wrong tensor shape', () => {
      writeFileSync(join(dir, 't2.npy'), encodeNpy(new Float32Array(64 * 64), [1, 1, 64, 64]));
      return ['explain', join(dir, 't2.npy'), '--weights', weights, '--out', dir];
    }, /shape \[1, 1, 64, 64\] is not/],
    ['weights that are not safetensors', () => {
      writeFileSync(join(dir, 'w.bin'), 'not weights at all');
      // An input that exists: inputs are checked before the weights load.
      writeFileSync(join(dir, 'a.npy'), encodeNpy(new Float32Array(3 * 64 * 64), [1, 3, 64, 64]));
      return ['explain', join(dir, 'a.npy'), '--weights', join(dir, 'w.bin'), '--out', dir];
    }, /\[WEIGHTS_ERROR\]/],
  ];
  for (const [name, argv, message] of failures) {
    test(`${name}: exit 1, one line, no stack`, async () => {
      const r = await run(...argv());
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  test('--verbose adds the stack trace', async () => {
    const r = await run('explain', join(dir, 'nope.png'), '--weights', weights, '--out', dir, '--verbose');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

test('every error class is a GradcamError with a code', () => {
  for (const e of [new InvalidInputError('x'), new ImageDecodeError('x'), new WeightsError('x', 'k'), new LayerNotFoundError('a', ['b'])]) {
    expect(e).toBeInstanceOf(GradcamError);
    expect(typeof e.code).toBe('string');
  }
});

test('threads is fixed per process: asking again for the running count is fine, another count is a typed error', async () => {
  const first = await createExplainer({ weights: randomResnet34Weights() });
  const same = await createExplainer({ weights: randomResnet34Weights(), threads: first.runtime.threads });
  expect(same.runtime.threads).toBe(first.runtime.threads);
  const other = first.runtime.threads === 1 ? 2 : 1;
  await expect(createExplainer({ weights: randomResnet34Weights(), threads: other })).rejects.toThrow(/already runs with \d threads; threads is fixed per process/);
  await expect(createExplainer({ weights: randomResnet34Weights(), threads: 9 })).rejects.toThrow(/threads must be an integer from 1 to 8/);
  first.dispose();
  same.dispose();
});
