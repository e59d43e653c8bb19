import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GradcamError, WeightsError } from '../../src/errors.js';
import { decodeOnnx } from '../../src/importers/onnx/decode.js';
import { DataType, type OnnxTensor } from '../../src/importers/onnx/ir.js';
import { buildOnnx, littleEndian, tinyCnn, type ModelSpec, type NodeSpec, type TensorSpec } from '../helpers/onnx-builder.js';

const decode = (spec: ModelSpec, externalData?: Map<string, Uint8Array>) => decodeOnnx(buildOnnx(spec), { source: 'tiny.onnx', externalData });
const failure = (f: () => unknown): GradcamError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(GradcamError);
    return e as GradcamError;
  }
  throw new Error('expected an error');
};
const expectError = (f: () => unknown, code: string, ...parts: string[]): void => {
  const e = failure(f);
  expect(e.code).toBe(code);
  for (const p of ['tiny.onnx', ...parts]) expect(e.message).toContain(p);
};
/** The tiny model with one tensor initializer added, decoded; returns that tensor. */
const withTensor = (t: TensorSpec): OnnxTensor => {
  const base = tinyCnn();
  return decode({ ...base, initializers: [...base.initializers!, { name: 'extra', ...t }] }).initializers.get('extra')!;
};
const replaceNode = (index: number, node: Partial<NodeSpec>): ModelSpec => {
  const base = tinyCnn();
  return { ...base, nodes: base.nodes.map((n, i) => (i === index ? { ...n, ...node } : n)) };
};

describe('decodeOnnx', () => {
  it('round-trips a tiny CNN: opset, nodes, attributes, initializers, input, output, layers', () => {
    const spec = tinyCnn();
    const m = decode({ ...spec, opset: 13, producer: 'pytorch' });
    expect(m.source).toBe('tiny.onnx');
    expect(m.opset).toBe(13);
    expect(m.producer).toBe('pytorch');
    expect(m.input).toEqual({ name: 'input', elemType: 1, shape: ['batch', 3, 'height', 'width'] });
    expect(m.output).toEqual({ name: 'logits', elemType: 1, shape: ['batch', 5] });
    expect(m.nodes.map((n) => n.opType)).toEqual(['Conv', 'Relu', 'GlobalAveragePool', 'Flatten', 'Gemm']);
    const conv = m.nodes[0]!;
    expect(conv).toMatchObject({ name: '/features/features.0/Conv', domain: '', inputs: ['input', 'features.0.weight', 'features.0.bias'] });
    expect([...conv.attributes]).toEqual([['dilations', [1, 1]], ['group', 1], ['kernel_shape', [3, 3]], ['pads', [1, 1, 1, 1]], ['strides', [1, 1]]]);
    expect(m.nodes[4]!.attributes.get('alpha')).toBe(1);
    expect(m.nodes[4]!.attributes.get('transB')).toBe(1);
    for (const t of spec.initializers!) {
      const got = m.initializers.get(t.name!)!;
      expect(got.dims).toEqual(t.dims);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(Array.from(got.data)).toEqual(Array.from(new Float32Array(t.data!)));
    }
    expect(m.layers).toEqual([
      { name: 'features', value: '/features/features.1/Relu_output_0' },
      { name: 'features.0', value: '/features/features.0/Conv_output_0' },
      { name: 'features.1', value: '/features/features.1/Relu_output_0' },
      { name: 'pool', value: '/pool/GlobalAveragePool_output_0' },
      { name: 'fc', value: 'logits' },
    ]);
  });

  it('reads string, float-list, string-list and tensor attributes (a Constant node stays a node)', () => {
    const base = tinyCnn();
    const m = decode({
      ...base,
      nodes: [
        { name: '/c/Constant', op: 'Constant', inputs: [], outputs: ['k'], attributes: { value: { dims: [2], data: [3, -4], elemType: DataType.INT64 } } },
        { ...base.nodes[0]!, attributes: { ...base.nodes[0]!.attributes, auto_pad: 'NOTSET' } },
        { ...base.nodes[1]!, attributes: { scales: { floats: [0.5, 2] }, names: ['a', 'b'] } },
        ...base.nodes.slice(2),
      ],
    });
    const k = m.nodes[0]!.attributes.get('value') as OnnxTensor;
    expect(k).toMatchObject({ name: '/c/Constant.value', dims: [2], elemType: DataType.INT64 });
    expect(k.data).toEqual(new Float64Array([3, -4]));
    expect(m.nodes[1]!.attributes.get('auto_pad')).toBe('NOTSET');
    expect(m.nodes[2]!.attributes.get('scales')).toEqual([0.5, 2]);
    expect(m.nodes[2]!.attributes.get('names')).toEqual(['a', 'b']);
  });

  it('converts every element type, raw (little-endian) and typed fields alike', () => {
    const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555]).buffer);
    expect(Array.from(withTensor({ dims: [5], elemType: DataType.FLOAT16, raw: half }).data)).toEqual([1, -2, 65504, 2 ** -24, Math.fround(0.333251953125)]);
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040, 0x4049]).buffer);
    expect(Array.from(withTensor({ dims: [3], elemType: DataType.BFLOAT16, raw: bf16 }).data)).toEqual([1, -3, 3.140625]);
    // float16 in int32_data holds the bit pattern
    const f16typed = withTensor({ dims: [2], elemType: DataType.FLOAT16, encoding: 'typed', data: [0x3c00, 0xc000] });
    expect(Array.from(f16typed.data)).toEqual([1, -2]);
    const dbl = withTensor({ dims: [2], elemType: DataType.DOUBLE, data: [0.1, -1e300] });
    expect(dbl.data).toEqual(new Float32Array([0.1, -Infinity]));
    const big = [1, -1, 2 ** 53, -(2 ** 40)];
    for (const encoding of ['raw', 'typed'] as const) {
      const t = withTensor({ dims: [2, 2], elemType: DataType.INT64, data: big, encoding });
      expect(t.data).toEqual(new Float64Array(big));
    }
    expect(Array.from(withTensor({ dims: [3], elemType: DataType.INT8, data: [-128, 0, 127] }).data)).toEqual([-128, 0, 127]);
    expect(Array.from(withTensor({ dims: [3], elemType: DataType.INT8, data: [-128, 0, 127], encoding: 'typed' }).data)).toEqual([-128, 0, 127]);
    expect(Array.from(withTensor({ dims: [2], elemType: DataType.BOOL, data: [1, 0] }).data)).toEqual([1, 0]);
    expect(Array.from(withTensor({ dims: [2], elemType: DataType.UINT8, data: [255, 7] }).data)).toEqual([255, 7]);
    expect(Array.from(withTensor({ dims: [2], elemType: DataType.INT32, data: [-5, 2 ** 31 - 1] }).data)).toEqual([-5, 2 ** 31 - 1]);
    expect(Array.from(withTensor({ dims: [1], elemType: DataType.UINT64, data: [2 ** 40], encoding: 'typed' }).data)).toEqual([2 ** 40]);
    expect(Array.from(withTensor({ dims: [0, 3], data: [] }).data)).toEqual([]);
    // INT64_MAX (Slice's "to the end") rounds to the nearest double
    const max = new Uint8Array(new BigInt64Array([9223372036854775807n]).buffer);
    expect(withTensor({ dims: [1], elemType: DataType.INT64, raw: max }).data[0]).toBe(2 ** 63);
  });

  it('reads external data from the files given, by location, offset and length', () => {
    const weights = new Float32Array([1.5, -2, 3.25]);
    const file = new Uint8Array(16);
    file.set(new Uint8Array(weights.buffer), 4);
    const spec = (external: TensorSpec['external']): ModelSpec => ({ ...tinyCnn(), initializers: [...tinyCnn().initializers!, { name: 'extra', dims: [3], external }] });
    const m = decode(spec({ location: 'tiny.onnx.data', offset: 4, length: 12 }), new Map([['tiny.onnx.data', file]]));
    expect(m.initializers.get('extra')!.data).toEqual(weights);
    expectError(() => decode(spec({ location: 'weights.bin' })), 'WEIGHTS_ERROR', "'extra'", "'weights.bin'", 'not given');
    expectError(() => decode(spec({ location: 'w', offset: 8, length: 12 }), new Map([['w', file]])), 'WEIGHTS_ERROR', "'extra'", 'outside');
  });

  it('rejects truncated, empty and non-ONNX bytes with a WeightsError', () => {
    const bytes = buildOnnx(tinyCnn());
    for (const cut of [bytes.length - 1, bytes.length - 200, 30, 3]) {
      expectError(() => decodeOnnx(bytes.subarray(0, cut), { source: 'tiny.onnx' }), 'WEIGHTS_ERROR', 'not an ONNX model');
    }
    expectError(() => decodeOnnx(new Uint8Array(0), { source: 'tiny.onnx' }), 'WEIGHTS_ERROR', 'not an ONNX model (no graph)');
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    expectError(() => decodeOnnx(png, { source: 'tiny.onnx' }), 'WEIGHTS_ERROR', 'not an ONNX model');
    expectError(() => decodeOnnx(new TextEncoder().encode('{"modelTopology": {}}'), { source: 'tiny.onnx' }), 'WEIGHTS_ERROR', 'not an ONNX model');
    expectError(() => decodeOnnx(new Uint8Array([1, 2, 3]).buffer as unknown as Uint8Array, { source: 'tiny.onnx' }), 'WEIGHTS_ERROR', 'Uint8Array');
  });

  it('rejects a missing initializer, an unsorted graph and a value defined twice, naming the value', () => {
    const base = tinyCnn();
    const missing = { ...base, initializers: base.initializers!.filter((t) => t.name !== 'fc.weight') };
    expectError(() => decode(missing), 'WEIGHTS_ERROR', "'fc.weight'", "'/fc/Gemm'", 'not a graph input, an initializer');
    const unsorted = { ...base, nodes: [base.nodes[1]!, base.nodes[0]!, ...base.nodes.slice(2)] };
    expectError(() => decode(unsorted), 'WEIGHTS_ERROR', "'/features/features.0/Conv_output_0'", 'later node');
    expectError(() => decode(replaceNode(1, { outputs: ['/features/features.0/Conv_output_0'] })), 'WEIGHTS_ERROR', 'defined twice');
    expectError(() => decode({ ...base, output: { name: 'nowhere' } }), 'WEIGHTS_ERROR', "'nowhere'");
    const short = { ...base, initializers: [{ name: 'fc.weight', dims: [5, 4], raw: new Uint8Array(79) }, ...base.initializers!.slice(0, 2), base.initializers![3]!] };
    expectError(() => decode(short), 'WEIGHTS_ERROR', "'fc.weight'", '80 bytes', 'found 79');
    const typed = { ...base, initializers: [...base.initializers!, { name: 'n', dims: [3], data: [1, 2], encoding: 'typed' as const }] };
    expectError(() => decode(typed), 'WEIGHTS_ERROR', "'n'", '3 elements but 2 values');
  });

  it('rejects two inputs, no 4-D input, two outputs, a non-float input as UNSUPPORTED', () => {
    const base = tinyCnn();
    expectError(() => decode({ ...base, input: [base.input as never, { name: 'mask', shape: [1] }] }), 'UNSUPPORTED', '2 inputs', "'input'", "'mask'");
    expectError(() => decode({ ...base, input: { name: 'input', shape: [3, 224, 224] } }), 'UNSUPPORTED', "'input'", '3 dimensions', '4-D');
    expectError(() => decode({ ...base, input: { name: 'input' } }), 'UNSUPPORTED', 'unknown rank');
    expectError(() => decode({ ...base, input: { name: 'input', shape: [1, 3, 8, 8], elemType: DataType.UINT8 } }), 'UNSUPPORTED', 'float32');
    expectError(() => decode({ ...base, output: [{ name: 'logits' }, { name: '/Flatten_output_0' }] }), 'UNSUPPORTED', '2 outputs');
    // an initializer listed among the graph inputs (IR < 4 style) is not an image input
    const listed = decode({ ...base, input: [base.input as never, { name: 'fc.bias', shape: [5] }] });
    expect(listed.input.name).toBe('input');
  });

  it('rejects control flow, subgraph attributes and other operator domains as UNSUPPORTED, naming the node', () => {
    expectError(() => decode(replaceNode(1, { op: 'If', name: '/cond/If' })), 'UNSUPPORTED', "'/cond/If'", 'control flow');
    expectError(() => decode(replaceNode(1, { op: 'Loop' })), 'UNSUPPORTED', 'Loop');
    expectError(() => decode(replaceNode(1, { domain: 'com.microsoft', name: '/x/FusedRelu' })), 'UNSUPPORTED', "'/x/FusedRelu'", "'com.microsoft'");
    const graphAttr = { message: { type: 5, g: new Uint8Array([10, 0]) } };
    expectError(() => decode(replaceNode(1, { attributes: { body: graphAttr } })), 'UNSUPPORTED', "'/features/features.1/Relu'", "'body'", 'subgraph');
    // an old-style attribute without a type that holds a graph
    expectError(() => decode(replaceNode(1, { attributes: { body: { message: { g: new Uint8Array([10, 0]) } } } })), 'UNSUPPORTED', 'subgraph');
    // an unknown attribute type reads as unset: the value present decides, and no value is an error
    expect(decode(replaceNode(1, { attributes: { x: { message: { type: 99, i: 7 } } } })).nodes[1]!.attributes.get('x')).toBe(7);
    expectError(() => decode(replaceNode(1, { attributes: { x: { message: { type: 99 } } } })), 'WEIGHTS_ERROR', "'x'", 'has no value');
    expectError(() => decode(replaceNode(1, { attributes: { x: 1, y: { message: { name: 'x', type: 2, i: 3 } } } })), 'WEIGHTS_ERROR', "'x' twice");
  });

  it('onnx-pb.generated.ts is what scripts/gen-onnx-proto.mjs makes from schema.proto', () => {
    execFileSync(process.execPath, ['scripts/gen-onnx-proto.mjs', '--check'], { stdio: 'pipe' });
  });
});

describe('runtimes without code generation from strings (workerd, CSP pages)', () => {
  it('decodes and encodes in a context where eval and new Function throw', async () => {
    const { build } = await import('esbuild');
    const entry = `import { decodeOnnx } from './src/importers/onnx/decode.ts';
      import { buildOnnx, tinyCnn } from './test/helpers/onnx-builder.ts';
      const m = decodeOnnx(buildOnnx(tinyCnn()), { source: 'tiny.onnx' });
      let error = '';
      try { decodeOnnx(new Uint8Array([8, 255]), { source: 'x' }); } catch (e) { error = e.name; }
      globalThis.result = { nodes: m.nodes.length, bias: Array.from(m.initializers.get('fc.bias').data), error };`;
    const bundle = await build({ stdin: { contents: entry, resolveDir: process.cwd(), loader: 'ts' }, bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent' });
    const { createContext, runInContext } = await import('node:vm');
    const context = createContext({ TextDecoder, TextEncoder }, { codeGeneration: { strings: false, wasm: false } });
    expect(() => runInContext('new Function("return 1")', context)).toThrow(/Code generation from strings disallowed/);
    runInContext(bundle.outputFiles[0]!.text, context);
    const result = context.result as { nodes: number; bias: number[]; error: string };
    expect(result).toEqual({ nodes: 5, bias: Array.from(new Float32Array(tinyCnn().initializers![3]!.data!)), error: 'WeightsError' });
  });
});
