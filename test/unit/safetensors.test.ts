import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseSafetensors, encodeSafetensors, FileNotFoundError, WeightsError } from '../../src/index.js';
import { openLocalFile } from '../../src/runtime/io.js';
import { ResNet34 } from '../../src/models/resnet34.js';
import { initBackend } from '../../src/runtime/index.js';
import { encode, randomArray, randomResnet34Tensors, type TensorMap } from '../helpers/random-weights.js';
import { pearson, relL2 } from '../helpers/metrics.js';
import { tf } from '../../src/tf.js';

let baseTensors: TensorMap | undefined;
const base = () => (baseTensors ??= randomResnet34Tensors());

const f32bytes = (a: number[]) => new Uint8Array(new Float32Array(a).buffer);

describe('safetensors reader', () => {
  test('round trip and dtype conversion (F32, F16, BF16)', () => {
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff]).buffer); // 1, -2, ~1/3, min subnormal, 65504
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040, 0x3eaa]).buffer); // 1, -3, ~0.333
    const file = parseSafetensors(encodeSafetensors({
      a: { dtype: 'F32', shape: [2, 2], data: f32bytes([1, 2.5, -3, 4]) },
      h: { dtype: 'F16', shape: [5], data: f16 },
      b: { dtype: 'BF16', shape: [3], data: bf16 },
    }, { format: 'pt' }));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(file.float32('a'))).toEqual([1, 2.5, -3, 4]);
    const h = file.float32('h');
    expect(h[0]).toBe(1);
    expect(h[1]).toBe(-2);
    expect(h[2]).toBeCloseTo(1 / 3, 3);
    expect(h[3]).toBe(2 ** -24);
    expect(h[4]).toBe(65504);
    expect(Array.from(file.float32('b')).map((v) => +v.toFixed(3))).toEqual([1, -3, 0.332]);
  });

  const header = (json: string, dataBytes = 0) => {
    const h = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + h.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    return out;
  };
  const bad: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(4), /shorter than the 8-byte header length/],
    ['header length beyond the file', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })(), /exceeds/],
    ['bad JSON', header('{"a": '), /not valid JSON/],
    ['JSON that is not an object', header('[1,2]'), /not a JSON object/],
    ['unknown dtype', header('{"a":{"dtype":"X9","shape":[1],"data_offsets":[0,4]}}', 4), /a: unknown dtype/],
    ['offsets out of range', header('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', 8), /a: data_offsets \[0, 16\] fall outside the 8-byte data section/],
    ['size mismatch', header('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8), /a: shape \[3\] of F32 needs 12 bytes/],
    ['negative shape', header('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4), /a: invalid shape/],
  ];
  for (const [name, bytes, message] of bad) {
    test(`rejects ${name}`, () => {
      expect(() => parseSafetensors(bytes)).toThrow(WeightsError);
      expect(() => parseSafetensors(bytes)).toThrow(message);
    });
  }

  test('rejects NaN and Inf values, naming the key', () => {
    const file = parseSafetensors(encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: f32bytes([1, NaN]) } }));
    expect(() => file.float32('w')).toThrow(/w: non-finite value \(NaN\) at flat index 1/);
  });

  test('rejects tensors whose bytes overlap (the format forbids it); empty tensors may share an offset', () => {
    const header = (entries: Record<string, [number, number]>) => {
      const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(Object.entries(entries).map(([k, [b, e]]) => [k, { dtype: 'F32', shape: [(e - b) / 4], data_offsets: [b, e] }]))));
      const out = new Uint8Array(8 + json.byteLength + 16);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
      out.set(json, 8);
      return out;
    };
    expect(() => parseSafetensors(header({ a: [0, 8], b: [4, 12] }))).toThrow(/b: data_offsets \[4, 12\] overlap those of a \[0, 8\]/);
    expect(() => parseSafetensors(header({ a: [0, 16], b: [8, 12] }))).toThrow(WeightsError);
    expect(() => parseSafetensors(header({ a: [0, 8], b: [8, 16], e: [8, 8] }))).not.toThrow();
  });
});

describe('ResNet34 weights layout', () => {
  const load = async (mutate: (t: TensorMap) => void) => {
    await initBackend();
    const t = { ...base() };
    mutate(t);
    return () => ResNet34.fromSafetensors(encode(t));
  };
  test('missing key', async () => {
    expect(await load((t) => delete t['layer3.2.bn2.running_var'])).toThrow(/layer3\.2\.bn2\.running_var: missing tensor/);
  });
  test('unexpected key', async () => {
    expect(await load((t) => (t['head.weight'] = { dtype: 'F32', shape: [1], data: f32bytes([0]) }))).toThrow(/head\.weight: unexpected tensor/);
  });
  test('num_batches_tracked (I64) is ignored', async () => {
    const make = await load((t) => (t['bn1.num_batches_tracked'] = { dtype: 'I64', shape: [], data: new Uint8Array(8) }));
    make().dispose();
  });
  test('wrong shape', async () => {
    expect(await load((t) => (t['fc.bias'] = { dtype: 'F32', shape: [10], data: new Uint8Array(40) }))).toThrow(/fc\.bias: shape \[10\] does not match the expected \[1000\]/);
  });
  test('wrong dtype', async () => {
    expect(await load((t) => (t['fc.bias'] = { dtype: 'I64', shape: [1000], data: new Uint8Array(8000) }))).toThrow(/fc\.bias: dtype I64 is not supported/);
  });
  test('NaN value', async () => {
    expect(await load((t) => {
      const d = new Float32Array(t['layer1.0.conv1.weight']!.data.slice().buffer);
      d[7] = NaN;
      t['layer1.0.conv1.weight'] = { ...t['layer1.0.conv1.weight']!, data: new Uint8Array(d.buffer) };
    })).toThrow(/layer1\.0\.conv1\.weight: non-finite value/);
  });
  test('a BatchNorm running_var below zero, naming the tensor', async () => {
    expect(await load((t) => {
      const d = new Float32Array(t['layer2.1.bn1.running_var']!.data.slice().buffer);
      d[3] = -0.5;
      t['layer2.1.bn1.running_var'] = { ...t['layer2.1.bn1.running_var']!, data: new Uint8Array(d.buffer) };
    })).toThrow(/layer2\.1\.bn1\.running_var: negative variance -0\.5 at index 3/);
  });
  test('BF16 weights give the same network up to their precision', async () => {
    await initBackend();
    const t = base();
    const toHalf = (dtype: 'BF16') => Object.fromEntries(Object.entries(t).map(([k, v]) => {
      const f = new Float32Array(v.data.slice().buffer);
      const u = new Uint16Array(f.length);
      const u32 = new Uint32Array(f.buffer);
      for (let i = 0; i < f.length; i++) u[i] = u32[i]! >>> 16;
      return [k, { dtype, shape: v.shape, data: new Uint8Array(u.buffer) }];
    }));
    const half = ResNet34.fromSafetensors(encode(toHalf('BF16') as TensorMap));
    const full = ResNet34.fromSafetensors(encode(t));
    const x = tf.tensor4d(randomArray(64 * 64 * 3, 5), [1, 64, 64, 3]);
    const [a, b] = [half, full].map((m) => {
      const pass = m.forward(x);
      const logits = pass.logits.dataSync().slice();
      pass.dispose();
      m.dispose();
      return logits;
    }) as [Float32Array, Float32Array];
    x.dispose();
    expect(relL2(a, b)).toBeGreaterThan(0);
    expect(relL2(a, b)).toBeLessThan(0.15); // truncating to 8 mantissa bits, through 36 layers
    expect(pearson(a, b)).toBeGreaterThan(0.99);
  });
});

describe('safetensors from a local file, read tensor by tensor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-st-'));
  const bytes = encodeSafetensors({
    a: { dtype: 'F32', shape: [3], data: f32bytes([1, -2, 3.5]) },
    b: { dtype: 'F32', shape: [2, 2], data: f32bytes([0.25, 5, 6, -7]) },
  });
  test('gives the same tensors as the bytes, through a file path and a file: URL', async () => {
    const path = join(dir, 'w.safetensors');
    writeFileSync(path, bytes);
    for (const source of [path, pathToFileURL(path)]) {
      const file = (await openLocalFile(source, 'weights'))!;
      try {
        const parsed = parseSafetensors(file);
        expect(Array.from(parsed.float32('a'))).toEqual([1, -2, 3.5]);
        expect(Array.from(parsed.float32('b'))).toEqual(Array.from(parseSafetensors(bytes).float32('b')));
      } finally {
        file.close();
      }
    }
  });
  test('transient reads give the same values, in memory that the next transient read reuses; other dtypes and NaN are checked as before', async () => {
    const path = join(dir, 't.safetensors');
    const withHalf = encodeSafetensors({
      a: { dtype: 'F32', shape: [3], data: f32bytes([1, -2, 3.5]) },
      b: { dtype: 'F32', shape: [2, 2], data: f32bytes([0.25, 5, 6, -7]) },
      h: { dtype: 'F16', shape: [2], data: new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer) },
      n: { dtype: 'F32', shape: [2], data: f32bytes([1, NaN]) },
    });
    writeFileSync(path, withHalf);
    const file = (await openLocalFile(path, 'weights'))!;
    try {
      for (const parsed of [parseSafetensors(file), parseSafetensors(withHalf)]) {
        const b = parsed.float32('b', true);
        expect(Array.from(b)).toEqual([0.25, 5, 6, -7]);
        const a = parsed.float32('a', true);
        expect(Array.from(a)).toEqual([1, -2, 3.5]);
        expect(a.buffer).toBe(b.buffer); // the same scratch: b is now overwritten
        expect(Array.from(parsed.float32('b'))).toEqual([0.25, 5, 6, -7]); // a plain read is its own
        expect(Array.from(parsed.float32('h', true))).toEqual([1, -2]);
        expect(() => parsed.float32('n', true)).toThrow(WeightsError);
      }
      // The bytes given in memory are never written to.
      expect(Array.from(parseSafetensors(withHalf).float32('a'))).toEqual([1, -2, 3.5]);
    } finally {
      file.close();
    }
  });
  test('a truncated file is a WeightsError; a directory and a missing file are named', async () => {
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 4));
    const file = (await openLocalFile(cut, 'weights'))!;
    expect(() => parseSafetensors(file)).toThrow(WeightsError);
    file.close();
    await expect(openLocalFile(dir, 'weights')).rejects.toThrow(`weights path is a directory: ${dir}`);
    await expect(openLocalFile(join(dir, 'none'), 'weights')).rejects.toThrow(FileNotFoundError);
    expect(await openLocalFile('https://example.invalid/w.safetensors', 'weights')).toBeUndefined();
    expect(await openLocalFile(bytes, 'weights')).toBeUndefined();
  });
});
