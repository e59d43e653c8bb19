/**
 * 200 mutated versions of a tiny ONNX model (built here, fixed seed): byte flips, truncations, insertions and
 * field-level changes (dims, data types, attribute types and values, dangling inputs, node order, op types,
 * domains, opsets, input/output declarations, external data). Each must end in a GradcamError or a valid
 * model, never another exception, first through decodeOnnx, then through createExplainer and explain().
 */
import { describe, expect, it } from 'vitest';
import { createExplainer } from '../../src/explainer.js';
import { GradcamError } from '../../src/errors.js';
import { tf } from '../../src/tf.js';
import { decodeOnnx } from '../../src/importers/onnx/decode.js';
import type { OnnxModel } from '../../src/importers/onnx/ir.js';
import { encodeModelMessage, type MessageInit, type ModelMessage } from '../../src/importers/onnx/proto.js';
import { onnxMessage, tinyCnn } from '../helpers/onnx-builder.js';

type Rng = () => number;
const mulberry32 = (seed: number): Rng => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

// Plain, mutable shapes of the message parts the mutators touch.
interface Tensor { name?: string; dims?: number[]; dataType?: number; rawData?: Uint8Array; dataLocation?: number; externalData?: { key: string; value: string }[] }
interface Attribute { name?: string; type?: number; i?: number; f?: number; ints?: number[]; floats?: number[]; s?: Uint8Array; t?: Tensor }
interface Node { name?: string; opType?: string; domain?: string; input: string[]; output: string[]; attribute: Attribute[] }
interface Value { name?: string; type?: { tensorType?: { elemType?: number; shape?: { dim: { dimValue?: number; dimParam?: string }[] } } } }
interface Model { opsetImport: { domain: string; version: number }[]; graph: { node: Node[]; initializer: Tensor[]; input: Value[]; output: Value[] } }

const WEIRD = [0, 1, -1, 2, 3, 7, 1000, -5, 2 ** 31, 2 ** 40, -(2 ** 40)];
const MUTATORS: Record<string, (m: Model, rng: Rng) => void> = {
  dims(m, rng) {
    const t = pick(rng, m.graph.initializer);
    const d = t.dims ?? [];
    t.dims = pick(rng, [[], [...d].reverse(), d.map((x) => x + 1), [...d, 1], d.slice(1), d.map(() => pick(rng, WEIRD))]);
  },
  attributeType(m, rng) {
    const a = pick(rng, m.graph.node.flatMap((n) => n.attribute));
    if (a) a.type = int(rng, 20);
  },
  attributeValue(m, rng) {
    const a = pick(rng, m.graph.node.flatMap((n) => n.attribute));
    if (!a) return;
    if (a.ints) a.ints = a.ints.map(() => pick(rng, WEIRD));
    else if (a.i !== undefined) a.i = pick(rng, WEIRD);
    else if (a.f !== undefined) a.f = pick(rng, [NaN, Infinity, -1, 0, 1e30]);
  },
  newAttribute(m, rng) {
    pick(rng, m.graph.node).attribute.push(pick(rng, [
      { name: 'auto_pad', type: 3, s: new TextEncoder().encode(pick(rng, ['SAME_UPPER', 'VALID', 'bogus'])) },
      { name: 'ceil_mode', type: 2, i: 1 },
      { name: 'value', type: 4, t: { dims: [2], dataType: 1, rawData: new Uint8Array(8) } },
      { name: 'body', type: 5 },
      { name: 'kernel_shape', type: 7, ints: [pick(rng, WEIRD), pick(rng, WEIRD)] },
    ]));
  },
  danglingInput(m, rng) {
    const n = pick(rng, m.graph.node);
    n.input[int(rng, n.input.length)] = pick(rng, ['ghost', '', 'logits', 'input']);
  },
  inputCount(m, rng) {
    const n = pick(rng, m.graph.node);
    if (rng() < 0.5) n.input.pop();
    else n.input.push(pick(rng, ['', 'fc.bias', 'input']));
  },
  removeInitializer(m, rng) {
    m.graph.initializer.splice(int(rng, m.graph.initializer.length), 1);
  },
  swapNodes(m, rng) {
    const [i, j] = [int(rng, m.graph.node.length), int(rng, m.graph.node.length)];
    [m.graph.node[i], m.graph.node[j]] = [m.graph.node[j]!, m.graph.node[i]!];
  },
  duplicateOutput(m, rng) {
    pick(rng, m.graph.node).output = [pick(rng, m.graph.node).output[0]!];
  },
  opType(m, rng) {
    pick(rng, m.graph.node).opType = pick(rng, ['If', 'Loop', 'Foo', '', 'Conv', 'Relu', 'Gemm', 'MaxPool', 'Softmax', 'Reshape', 'Identity', 'Flatten', 'Add']);
  },
  domain(m, rng) {
    pick(rng, m.graph.node).domain = pick(rng, ['com.microsoft', 'ai.onnx', 'ai.onnx.ml', '']);
  },
  dataType(m, rng) {
    pick(rng, m.graph.initializer).dataType = int(rng, 26);
  },
  rawData(m, rng) {
    const t = pick(rng, m.graph.initializer);
    const raw = t.rawData ?? new Uint8Array(0);
    t.rawData = rng() < 0.5 ? raw.subarray(0, int(rng, raw.length)) : new Uint8Array([...raw, ...raw.subarray(0, 4)]);
  },
  externalData(m, rng) {
    const t = pick(rng, m.graph.initializer);
    t.dataLocation = 1;
    t.externalData = [{ key: 'location', value: pick(rng, ['w.bin', '../../etc/passwd', '']) }, { key: 'offset', value: pick(rng, ['0', '-4', 'x']) }];
  },
  inputShape(m, rng) {
    const v = m.graph.input[0]!;
    const rank = pick(rng, [0, 2, 3, 4, 4, 5]);
    v.type = { tensorType: { elemType: pick(rng, [1, 1, 1, 7, 10, 0]), shape: { dim: Array.from({ length: rank }, () => (rng() < 0.3 ? { dimParam: 'n' } : { dimValue: pick(rng, [0, 1, 3, 5, 2 ** 31]) })) } } };
  },
  graphIO(m, rng) {
    const which = pick(rng, ['noOutput', 'twoOutputs', 'renameOutput', 'noInput', 'twoInputs', 'untyped']);
    if (which === 'noOutput') m.graph.output = [];
    if (which === 'twoOutputs') m.graph.output.push({ name: m.graph.node[0]!.output[0]! });
    if (which === 'renameOutput') m.graph.output[0]!.name = 'renamed';
    if (which === 'noInput') m.graph.input = [];
    if (which === 'twoInputs') m.graph.input.push({ name: 'mask', type: { tensorType: { elemType: 1 } } });
    if (which === 'untyped') delete m.graph.input[0]!.type;
  },
  opset(m, rng) {
    m.opsetImport = pick(rng, [[], [{ domain: '', version: pick(rng, [-1, 0, 1, 7, 13, 18, 99, 2 ** 40]) }], [{ domain: 'ai.onnx.ml', version: 3 }]]);
  },
};

function mutatedModel(i: number, rng: Rng, base: Uint8Array): Uint8Array {
  const kind = i % 4;
  let bytes = base;
  if (kind >= 2) {
    const m = structuredClone(onnxMessage(tinyCnn())) as unknown as Model;
    const names = Object.keys(MUTATORS);
    for (let k = 1 + int(rng, 2); k > 0; k--) MUTATORS[pick(rng, names)]!(m, rng);
    bytes = encodeModelMessage(m as unknown as MessageInit<ModelMessage>);
  }
  if (kind === 1) return bytes.slice(0, int(rng, bytes.length));
  if (kind === 0 || kind === 3) {
    bytes = bytes.slice();
    for (let k = 1 + int(rng, kind === 0 ? 3 : 2); k > 0; k--) {
      const at = int(rng, bytes.length);
      if (rng() < 0.8) bytes[at]! ^= 1 + int(rng, 255);
      else bytes = new Uint8Array([...bytes.subarray(0, at), ...Array.from({ length: 1 + int(rng, 6) }, () => int(rng, 256)), ...bytes.subarray(at)]);
    }
  }
  return bytes;
}

const CASES = 200;
const cases = (): Uint8Array[] => {
  const rng = mulberry32(20261130);
  const base = encodeModelMessage(onnxMessage(tinyCnn()));
  return Array.from({ length: CASES }, (_, i) => mutatedModel(i, rng, base));
};

/** A valid result's invariants: one 4-D input, every node input defined before it, layers pointing at node outputs. */
function checkValid(model: OnnxModel): void {
  expect(model.input.shape).toHaveLength(4);
  const defined = new Set([model.input.name, ...model.initializers.keys()]);
  for (const n of model.nodes) {
    for (const v of n.inputs) if (v !== '') expect(defined.has(v), v).toBe(true);
    for (const v of n.outputs) defined.add(v);
  }
  expect(defined.has(model.output.name)).toBe(true);
  for (const l of model.layers) expect(defined.has(l.value)).toBe(true);
}

/** Runs `f` on every case; returns the outcome counts (valid or error code). Any other exception fails. */
async function outcomes(f: (bytes: Uint8Array, i: number) => unknown): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let slowest = 0;
  for (const [i, bytes] of cases().entries()) {
    const t0 = performance.now();
    let outcome = 'valid';
    try {
      await f(bytes, i);
    } catch (e) {
      if (!(e instanceof GradcamError)) throw new Error(`case ${i}: not a GradcamError: ${String(e)}`, { cause: e });
      outcome = e.code;
    }
    slowest = Math.max(slowest, performance.now() - t0);
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  // A hang guard, not a performance check: every case ends within seconds.
  expect(slowest).toBeLessThan(10_000);
  return counts;
}

describe('ONNX fuzzing (200 mutated tiny models, fixed seed)', () => {
  it('decodeOnnx: a GradcamError or a valid model for each', async () => {
    const counts = await outcomes((bytes) => checkValid(decodeOnnx(bytes, { source: 'fuzz.onnx' })));
    // The mutations reach both ends: models that still decode, and each kind of typed error
    // (measured: 30 valid, 148 WEIGHTS_ERROR, 22 UNSUPPORTED).
    expect(counts.valid).toBeGreaterThan(15);
    expect(counts.WEIGHTS_ERROR).toBeGreaterThan(70);
    expect(counts.UNSUPPORTED).toBeGreaterThan(10);
  });

  it('createExplainer + explain: a GradcamError or a valid explanation for each', async () => {
    // The backend starts (and keeps its own tensors) before the count is taken.
    (await createExplainer({ model: encodeModelMessage(onnxMessage(tinyCnn())) })).dispose();
    const tensorsBefore = tf.memory().numTensors;
    const input = { tensor: Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => Math.sin(i)), shape: [1, 3, 16, 16] };
    const counts = await outcomes(async (bytes) => {
      const explainer = await createExplainer({ model: bytes });
      try {
        const e = await explainer.explain(input, { guided: true });
        expect(e.logits.every(Number.isFinite) || e.logits.some(Number.isNaN)).toBe(true);
        for (const cam of Object.values(e.cams)) expect(cam.map).toHaveLength(16 * 16);
      } finally {
        explainer.dispose();
      }
    });
    // measured: 22 valid, 148 WEIGHTS_ERROR, 30 UNSUPPORTED; failed builds and calls leave no tensor behind
    expect(counts.valid).toBeGreaterThan(10);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
