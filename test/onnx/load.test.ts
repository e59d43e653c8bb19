import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GradcamError } from '../../src/errors.js';
import { createExplainer } from '../../src/explainer.js';
import { loadOnnx } from '../../src/importers/onnx/load.js';
import { besideModel } from '../../src/io/beside.js';
import { IMAGENET_CLASSES } from '../../src/models/imagenet-classes.js';
import { chooseLabels, labelsBeside, parseLabels } from '../../src/models/labels.js';
import { buildOnnx, tinyCnn } from '../helpers/onnx-builder.js';

// tiny.onnx keeps fc.weight in tiny.onnx.data (at offset 8); `evil-*.onnx` point at files outside models/.
const spec = tinyCnn();
const fcWeight = new Float32Array(spec.initializers!.find((t) => t.name === 'fc.weight')!.data!);
const withExternal = (location: string) => buildOnnx({
  ...spec,
  initializers: spec.initializers!.map((t) => (t.name === 'fc.weight' ? { name: t.name, dims: t.dims, external: { location, offset: 8, length: 80 } } : t)),
});
const dataFile = new Uint8Array(96);
dataFile.set(new Uint8Array(fcWeight.buffer), 8);
const ESCAPES = ['../secret.bin', '/etc/passwd', 'file:///etc/passwd', 'http://127.0.0.1:1/x', 'C:\\secret.bin', 'sub/../../secret.bin', 'a//b', './tiny.onnx.data', '..\\secret.bin'];

let dir: string;
let server: Server;
let origin: string;
const requests: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradcam-onnx-load-'));
  mkdirSync(join(dir, 'models'));
  writeFileSync(join(dir, 'secret.bin'), dataFile); // a valid data file, outside the model's folder
  writeFileSync(join(dir, 'models/tiny.onnx'), withExternal('tiny.onnx.data'));
  writeFileSync(join(dir, 'models/tiny.onnx.data'), dataFile);
  writeFileSync(join(dir, 'models/tiny.labels.json'), JSON.stringify(['a', 'b', 'c', 'd', 'e']));
  writeFileSync(join(dir, 'models/missing.onnx'), withExternal('missing.data'));
  writeFileSync(join(dir, 'models/bad.labels.json'), '{"labels": 1}');
  ESCAPES.forEach((location, i) => writeFileSync(join(dir, `models/evil-${i}.onnx`), withExternal(location)));
  server = createServer((req, res) => {
    requests.push(req.url!);
    try {
      res.end(readFileSync(join(dir, decodeURIComponent(req.url!.split('?')[0]!))));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const rejects = async (p: Promise<unknown>, code: string, ...parts: string[]): Promise<void> => {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(GradcamError);
  expect((e as GradcamError).code).toBe(code);
  for (const part of parts) expect((e as Error).message).toContain(part);
};

describe('loadOnnx', () => {
  it('reads the external-data file beside a model given as a path, a file URL or an http URL', async () => {
    const path = join(dir, 'models/tiny.onnx');
    for (const source of [path, pathToFileURL(path), new URL('/models/tiny.onnx', origin), `${origin}/models/tiny.onnx`]) {
      const model = await loadOnnx(source);
      expect(model.initializers.get('fc.weight')!.data).toEqual(fcWeight);
      expect(model.source).toBe(source instanceof URL ? source.href : source);
    }
    expect(requests.filter((r) => r.endsWith('.data'))).toEqual(['/models/tiny.onnx.data', '/models/tiny.onnx.data']);
  });

  it('takes bytes with externalData given, and asks for it otherwise', async () => {
    const bytes = withExternal('tiny.onnx.data');
    const model = await loadOnnx(bytes, { externalData: new Map([['tiny.onnx.data', dataFile]]) });
    expect(model.initializers.get('fc.weight')!.data).toEqual(fcWeight);
    await rejects(loadOnnx(bytes), 'WEIGHTS_ERROR', 'bytes', "'tiny.onnx.data'", 'externalData');
  });

  it('reports a missing external-data file as a WeightsError', async () => {
    await rejects(loadOnnx(join(dir, 'models/missing.onnx')), 'WEIGHTS_ERROR', "'missing.data' is missing");
    await rejects(loadOnnx(`${origin}/models/missing.onnx`), 'WEIGHTS_ERROR', "'missing.data' is missing");
  });

  it('never resolves an external-data location outside the model folder, locally or over http', async () => {
    requests.length = 0;
    for (let i = 0; i < ESCAPES.length; i++) {
      await rejects(loadOnnx(join(dir, `models/evil-${i}.onnx`)), 'WEIGHTS_ERROR', `'${ESCAPES[i]}'`, "inside the model's folder");
      await rejects(loadOnnx(`${origin}/models/evil-${i}.onnx`), 'WEIGHTS_ERROR', `'${ESCAPES[i]}'`, "inside the model's folder");
    }
    expect(requests.every((r) => /^\/models\/evil-\d\.onnx$/.test(r))).toBe(true);
  });

  it('percent signs in a location are part of the file name, not an escape', () => {
    const url = besideModel(new URL('http://h/m/x.onnx'), '%2e%2e/secret', 'file') as URL;
    expect(url.href).toBe('http://h/m/%252e%252e/secret');
    expect(besideModel('models\\x.onnx', 'w.bin', 'file')).toBe('models\\w.bin');
    expect(besideModel('x.onnx', 'sub/w.bin', 'file')).toBe('sub/w.bin');
    expect(() => besideModel(new URL('data:application/octet-stream,abc'), 'w.bin', 'file')).toThrow(GradcamError);
  });
});

describe('labels', () => {
  it('finds <model name>.labels.json beside a path or URL; none is undefined', async () => {
    expect(await labelsBeside(join(dir, 'models/tiny.onnx'))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await labelsBeside(`${origin}/models/tiny.onnx`)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await labelsBeside(join(dir, 'models/missing.onnx'))).toBeUndefined();
    expect(await labelsBeside(new URL('/models/missing.onnx', origin))).toBeUndefined();
    await rejects(labelsBeside(join(dir, 'models/bad.onnx')), 'INVALID_INPUT', 'bad.labels.json', 'array of strings');
  });

  it('createExplainer takes them for an ONNX model: given > beside the model; a count that differs is an error', async () => {
    const model = join(dir, 'models/tiny.onnx');
    const beside = await createExplainer({ model });
    expect(beside.labels).toEqual(['a', 'b', 'c', 'd', 'e']);
    beside.dispose();
    const given = await createExplainer({ model, labels: ['v', 'w', 'x', 'y', 'z'] });
    expect(given.labels).toEqual(['v', 'w', 'x', 'y', 'z']);
    given.dispose();
    await rejects(createExplainer({ model, labels: ['a'] }), 'INVALID_INPUT', '1 labels were given for a model with 5 classes');
  });

  it('validates the JSON; labels must match the classes; ImageNet names for 1000 classes', () => {
    expect(() => parseLabels('[1, "a"]', 'l.json')).toThrow(/entry 0 is 1, not a string/);
    expect(() => parseLabels('[]', 'l.json')).toThrow(/non-empty/);
    expect(() => parseLabels('["a",', 'l.json')).toThrow(/not valid JSON/);
    expect(chooseLabels(['x', 'y'], 2)).toEqual(['x', 'y']);
    expect(chooseLabels(undefined, 1000)).toBe(IMAGENET_CLASSES);
    expect(chooseLabels(undefined, 5)).toBeUndefined();
    expect(() => chooseLabels(['a'], 5)).toThrow(/1 labels were given for a model with 5 classes/);
  });
});
