import { randomArray } from './random-weights.js';

/** A layer as a TF.js layers model.json writes it (functional form). */
export interface TinyLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: unknown[];
}

const node = (...from: string[]) => [from.map((n) => [n, 0, 0, {}])];

/**
 * A tiny Keras CNN as model.json + one weights shard, written by hand (no tfjs-layers): input 16x16x3,
 * conv 3x3 (4 filters, relu) -> BatchNorm -> ReLU -> global average pooling -> dense (5, softmax).
 * Tests mutate the JSON to make malformed models.
 */
export function tinyKerasModel(shard = 'w.bin'): { json: { modelTopology: Record<string, unknown>; weightsManifest: unknown[] }; layers: TinyLayer[]; bin: Uint8Array } {
  const layers: TinyLayer[] = [
    { class_name: 'InputLayer', name: 'input', config: { name: 'input', batch_input_shape: [null, 16, 16, 3], dtype: 'float32' }, inbound_nodes: [] },
    { class_name: 'Conv2D', name: 'conv', config: { name: 'conv', filters: 4, kernel_size: [3, 3], strides: [1, 1], padding: 'same', dilation_rate: [1, 1], activation: 'relu', use_bias: true }, inbound_nodes: node('input') },
    { class_name: 'BatchNormalization', name: 'bn', config: { name: 'bn', epsilon: 0.001, center: true, scale: true }, inbound_nodes: node('conv') },
    { class_name: 'ReLU', name: 'relu', config: { name: 'relu' }, inbound_nodes: node('bn') },
    { class_name: 'GlobalAveragePooling2D', name: 'gap', config: { name: 'gap' }, inbound_nodes: node('relu') },
    { class_name: 'Dense', name: 'fc', config: { name: 'fc', units: 5, activation: 'softmax', use_bias: true }, inbound_nodes: node('gap') },
  ];
  const weights: { name: string; shape: number[]; dtype: string }[] = [
    { name: 'conv/kernel', shape: [3, 3, 3, 4], dtype: 'float32' },
    { name: 'conv/bias', shape: [4], dtype: 'float32' },
    { name: 'bn/gamma', shape: [4], dtype: 'float32' },
    { name: 'bn/beta', shape: [4], dtype: 'float32' },
    { name: 'bn/moving_mean', shape: [4], dtype: 'float32' },
    { name: 'bn/moving_variance', shape: [4], dtype: 'float32' },
    { name: 'fc/kernel', shape: [4, 5], dtype: 'float32' },
    { name: 'fc/bias', shape: [5], dtype: 'float32' },
  ];
  const parts = weights.map((w, i) => {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const data = randomArray(n, 100 + i, 0.5);
    if (w.name === 'bn/moving_variance' || w.name === 'bn/gamma') for (let k = 0; k < n; k++) data[k] = 0.5 + Math.abs(data[k]!);
    return new Uint8Array(data.buffer);
  });
  const bin = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    bin.set(p, at);
    at += p.byteLength;
  }
  const json = {
    modelTopology: { class_name: 'Model', config: { name: 'tiny', layers, input_layers: [['input', 0, 0]], output_layers: [['fc', 0, 0]] } },
    weightsManifest: [{ paths: [shard], weights }],
  };
  return { json, layers, bin };
}
