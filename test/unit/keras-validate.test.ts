import { afterAll, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadKerasArtifacts } from '../../src/models/keras/loader.js';
import { GradcamError, WeightsError } from '../../src/errors.js';
import { main } from '../../src/cli/main.js';
import { tinyKerasModel, type TinyLayer } from '../helpers/tiny-keras.js';
import { ensureBuilt } from '../helpers/build.js';

const dir = mkdtempSync(join(tmpdir(), 'gradcam-keras-bad-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = join(import.meta.dirname, '../..');

type Json = ReturnType<typeof tinyKerasModel>['json'];
const layer = (j: Json, name: string) => (j.modelTopology.config as { layers: TinyLayer[] }).layers.find((l) => l.name === name)!;
const spec = (j: Json, name: string) => (j.weightsManifest[0] as { weights: { name: string; shape: unknown }[] }).weights.find((w) => w.name === name)!;

/** The 13 malformed model.json files a fuzz run turned into untyped errors, and what each must give now. */
const cases: [string, (j: Json) => unknown, RegExp][] = [
  ['null', () => null, /not a TF.js layers model/],
  ['weightsManifest: {}', (j) => ({ ...j, weightsManifest: {} }), /weightsManifest is not a list/],
  ['an empty group', (j) => ({ ...j, weightsManifest: [{}] }), /weightsManifest\[0\]\.paths/],
  ['paths as a string', (j) => ({ ...j, weightsManifest: [{ ...(j.weightsManifest[0] as object), paths: 'w.bin' }] }), /paths is not a non-empty list/],
  ['a transposed kernel shape', (j) => (spec(j, 'conv/kernel').shape = [4, 3, 3, 3], j), /conv\/kernel: shape \[4, 3, 3, 3\] does not fit layer 'conv', which needs \[3, 3, 3, 4\]/],
  ['a negative shape', (j) => (spec(j, 'fc/bias').shape = [-5], j), /fc\/bias: shape \[-5\] is not a list of non-negative integers/],
  ['a missing shape', (j) => (delete spec(j, 'bn/beta').shape, j), /bn\/beta: shape undefined/],
  ['zero strides', (j) => (layer(j, 'conv').config.strides = [0, 0], j), /layer 'conv': strides \[0,0\] is not a positive integer/],
  ['inbound nodes from a missing layer', (j) => (layer(j, 'bn').inbound_nodes = [[['nope', 0, 0, {}]]], j), /layer 'bn' takes its input from 'nope', which is not a layer defined before it/],
  ['inbound nodes from a later layer', (j) => (layer(j, 'bn').inbound_nodes = [[['gap', 0, 0, {}]]], j), /layer 'bn' takes its input from 'gap'/],
  ['duplicate layer names', (j) => ((layer(j, 'relu').name = 'bn'), (layer(j, 'gap').inbound_nodes = [[['bn', 0, 0, {}]]]), j), /two layers are named 'bn'/],
  ['config: null', (j) => ((layer(j, 'gap').config as unknown) = null, j), /layer 4 'gap' has no config object/],
  ['a bad Reshape target', (j) => {
    const layers = (j.modelTopology.config as { layers: TinyLayer[] }).layers;
    layers.splice(5, 0, { class_name: 'Reshape', name: 'rs', config: { name: 'rs', target_shape: [3, 3] }, inbound_nodes: [[['gap', 0, 0, {}]]] });
    layer(j, 'fc').inbound_nodes = [[['rs', 0, 0, {}]]];
    return j;
  }, /layer 'rs': cannot reshape \[4\] \(4 values\) to \[3, 3\]/],
  ['an input shape of 0x0', (j) => ((layer(j, 'input').config.batch_input_shape = [null, 0, 0, 3]), j), /batch_input_shape \[null,0,0,3\] is not/],
  ['a BatchNorm variance < 0', (j) => j, /bn\/moving_variance: negative variance -0\.25 at index 2/],
];

const write = (name: string, json: unknown, bin: Uint8Array): string => {
  const folder = join(dir, name.replace(/\W+/g, '-'));
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
  writeFileSync(join(folder, 'w.bin'), bin);
  return join(folder, 'model.json');
};

function badModel(name: string, mutate: (j: Json) => unknown): string {
  const m = tinyKerasModel();
  if (name.includes('variance')) {
    // moving_variance is the 6th weight; its 3rd value becomes -0.25.
    const f = new Float32Array(m.bin.buffer.slice(0));
    f[3 * 3 * 3 * 4 + 4 * 4 + 2] = -0.25;
    return write(name, m.json, new Uint8Array(f.buffer));
  }
  return write(name, mutate(structuredClone(m.json)), m.bin);
}

describe('malformed model.json files give a typed error naming the layer or weight, up front', () => {
  for (const [name, mutate, message] of cases) {
    test(name, async () => {
      const err = await loadKerasArtifacts(badModel(name, mutate)).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(GradcamError);
      expect((err as GradcamError).code).toMatch(/^(WEIGHTS_ERROR|UNSUPPORTED|INVALID_INPUT)$/);
      expect((err as Error).message).toMatch(message);
    });
  }
  test('a well-formed model still loads', async () => {
    const m = tinyKerasModel();
    expect((await loadKerasArtifacts(write('good', m.json, m.bin))).layers.map((l) => l.name)).toEqual(['input', 'conv', 'bn', 'relu', 'gap', 'fc']);
  });
  test('a non-RGB input and an unsupported layer are UNSUPPORTED, naming the layer', async () => {
    const m = tinyKerasModel();
    (m.json.modelTopology.config as { layers: TinyLayer[] }).layers[0]!.config.batch_input_shape = [null, 16, 16, 1];
    await expect(loadKerasArtifacts(write('gray', m.json, m.bin))).rejects.toThrow(/layer input: the input has 1 channels/);
    const n = tinyKerasModel();
    (n.json.modelTopology.config as { layers: TinyLayer[] }).layers[3]!.class_name = 'LSTM';
    await expect(loadKerasArtifacts(write('lstm', n.json, n.bin))).rejects.toMatchObject({ code: 'UNSUPPORTED', message: 'layer relu: layer type LSTM is not supported' });
  });
});

describe('a failing CLI run prints exactly one stderr line, and nothing from tfjs', () => {
  test('in process: every malformed model gives one `gradcam: error: <message> [CODE]` line', async () => {
    for (const [name, mutate] of cases) {
      let stderr = '';
      const code = await main(['explain', join(root, 'examples/coffee.png'), '--model', badModel(name, mutate), '--out', join(dir, 'out')], { stdout: () => undefined, stderr: (t) => void (stderr += t) });
      expect(code, name).toBe(1);
      expect(stderr, name).toMatch(/^gradcam: error: [^\n]+ \[(WEIGHTS_ERROR|UNSUPPORTED|INVALID_INPUT)\]\n$/);
    }
  });
  test('the built CLI on a 0x0-input model: one stderr line (no XNN status lines)', () => {
    ensureBuilt();
    const model = badModel('an input shape of 0x0', cases[13]![1]);
    const r = spawnSync(process.execPath, [join(root, 'bin/gradcam.js'), 'explain', join(root, 'examples/coffee.png'), '--model', model, '--out', join(dir, 'out2')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gradcam: error: [^\n]+ \[WEIGHTS_ERROR\]\n$/);
  });
});
