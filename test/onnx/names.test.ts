import { describe, expect, it } from 'vitest';
import { decodeOnnx } from '../../src/importers/onnx/decode.js';
import type { OnnxModel } from '../../src/importers/onnx/ir.js';
import { modulePaths } from '../../src/importers/onnx/layers.js';
import { createExplainer } from '../../src/explainer.js';
import { buildOnnx, tinyCnn } from '../helpers/onnx-builder.js';
import { hasZoo, ZOO_ARCHS, zooManifest, zooModelBytes, zooMissingReason, type ZooArch } from '../helpers/zoo.js';

describe('torch module paths from node-name scopes', () => {
  it('named children, indexed children and repeated calls', () => {
    expect(modulePaths('/layer4/layer4.2/relu_1/Relu')).toEqual(['layer4', 'layer4.2', 'layer4.2.relu_1']);
    expect(modulePaths('/features/features.18/features.18.2/Clip')).toEqual(['features', 'features.18', 'features.18.2']);
    expect(modulePaths('/features/denseblock3/Concat')).toEqual(['features', 'features.denseblock3']);
    expect(modulePaths('/features/features.1/features.1.0/block/block.0/block.0.0/Conv'))
      .toEqual(['features', 'features.1', 'features.1.0', 'features.1.0.block', 'features.1.0.block.0', 'features.1.0.block.0.0']);
    expect(modulePaths('/Flatten')).toEqual([]);
    expect(modulePaths('Conv_12')).toEqual([]);
    expect(modulePaths('')).toEqual([]);
    // a scope that merely starts like its parent's is a named child
    expect(modulePaths('/fc/fc.x/Gemm')).toEqual(['fc', 'fc.fc.x']);
  });
});

describe.skipIf(!hasZoo)(`zoo layer names (${hasZoo ? 'reference/zoo' : zooMissingReason})`, () => {
  const manifest = hasZoo ? zooManifest() : undefined;
  const decoded = new Map<string, OnnxModel>();
  const decode = (arch: ZooArch): OnnxModel => decoded.get(arch) ?? decoded.set(arch, decodeOnnx(zooModelBytes(arch), { source: `${arch}.onnx` })).get(arch)!;
  for (const arch of ZOO_ARCHS) {
    it(`${arch}: every manifest layer maps to its onnx_value; op counts and opset match`, () => {
      const entry = manifest!.models[arch];
      const model = decode(arch);
      expect(model.opset).toBe(entry.opset);
      const ops: Record<string, number> = {};
      for (const n of model.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
      expect(ops).toEqual(entry.ops);
      const layers = new Map(model.layers.map((l) => [l.name, l.value]));
      expect(layers.size).toBe(model.layers.length);
      for (const [name, { onnx_value }] of Object.entries(entry.layers)) expect(layers.get(name), name).toBe(onnx_value);
      // every layer's value is a node output, listed in the order of the modules' first nodes
      const outputs = new Set(model.nodes.flatMap((n) => n.outputs));
      for (const l of model.layers) expect(outputs.has(l.value), l.name).toBe(true);
      expect(model.layers[0]!.name).toBe(arch === 'resnet18' ? 'conv1' : 'features');
    });
  }

  it('resnet18 lists the modules pytorch-grad-cam users name, in model order', () => {
    const names = decode('resnet18').layers.map((l) => l.name);
    expect(names.filter((n) => !n.includes('.'))).toEqual(['conv1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4', 'avgpool', 'fc']);
    expect(names).toContain('layer4.1.relu_1');
    expect(names.indexOf('layer3.1')).toBeLessThan(names.indexOf('layer4.0'));
  });
});

describe('the default layer', () => {
  it('is the spatial module output computed last, also when a branchy module is listed before its branches (GoogLeNet)', async () => {
    const spec = tinyCnn(3);
    const conv = spec.nodes[0]!;
    // /block/a/Conv and /block/b/Conv, then /block/Concat: `block` is listed first (its first node), made last.
    const branch = (b: string) => ({ ...conv, name: `/block/${b}/Conv`, outputs: [`/block/${b}/Conv_output_0`] });
    const model = buildOnnx({
      ...spec,
      initializers: [...spec.initializers!.filter((t) => t.name !== 'fc.weight'), { name: 'fc.weight', dims: [5, 8], data: Array.from({ length: 40 }, (_, i) => Math.sin(i)) }],
      nodes: [
        branch('a'),
        branch('b'),
        { name: '/block/Concat', op: 'Concat', inputs: ['/block/a/Conv_output_0', '/block/b/Conv_output_0'], outputs: ['/features/features.1/Relu_output_0'], attributes: { axis: 1 } },
        ...spec.nodes.slice(2),
      ],
    });
    const explainer = await createExplainer({ model });
    try {
      expect(explainer.layers.slice(0, 3)).toEqual(['block', 'block.a', 'block.b']);
      expect(explainer.defaultLayers).toEqual(['block']);
    } finally {
      explainer.dispose();
    }
  });

  it("skips an exported adaptive pool that copies its input (VGG's avgpool at 224x224): features[-1], as pytorch-grad-cam's docs", async () => {
    const spec = tinyCnn(4);
    const relu = '/features/features.1/Relu_output_0';
    const pool = (kernel: number) =>
      buildOnnx({
        ...spec,
        nodes: [
          ...spec.nodes.slice(0, 2),
          { name: '/avgpool/AveragePool', op: 'AveragePool', inputs: [relu], outputs: ['/avgpool/AveragePool_output_0'], attributes: { kernel_shape: [kernel, kernel], strides: [1, 1] } },
          { ...spec.nodes[2]!, inputs: ['/avgpool/AveragePool_output_0'] },
          ...spec.nodes.slice(3),
        ],
      });
    const copying = await createExplainer({ model: pool(1) });
    const shrinking = await createExplainer({ model: pool(2) });
    try {
      expect(copying.layers).toContain('avgpool');
      expect(copying.defaultLayers).toEqual(['features.1']);
      expect(shrinking.defaultLayers).toEqual(['avgpool']); // a pool that changes the map is a layer of its own
    } finally {
      copying.dispose();
      shrinking.dispose();
    }
  });
});
