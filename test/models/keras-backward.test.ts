import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs';
import { tf } from '../../src/tf.js';
import { KerasCnn } from '../../src/models/keras/model.js';
import { loadKerasArtifacts } from '../../src/models/keras/loader.js';
import { randomArray } from '../helpers/random-weights.js';
import { pearson, relL2 } from '../helpers/metrics.js';

/**
 * Tiny Keras CNNs built with tfjs-layers and saved as TF.js layers models: our graph runner and its
 * hand-written gradients (input-only, guided-capable) against tfjs-layers' predictions and autodiff,
 * both on the CPU backend (which has every gradient kernel).
 */
const dir = mkdtempSync(join(tmpdir(), 'gradcam-keras-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mobilenetLike(): tfl.LayersModel {
  const input = tfl.input({ shape: [32, 32, 3] });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'c1' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: 'bn1' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: 'relu6', name: 'r1' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'dw' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: 'bn2' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6, name: 'r2' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw2' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 12, kernelSize: 1, padding: 'same', activation: 'relu', name: 'pw' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reshape({ targetShape: [1, 1, 12], name: 'rs' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dropout({ rate: 0.1, name: 'drop' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 10, kernelSize: 1, name: 'preds' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.activation({ activation: 'softmax', name: 'sm' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reshape({ targetShape: [10], name: 'out' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: x });
}

function residual(): tfl.LayersModel {
  const input = tfl.input({ shape: [32, 32, 3] });
  const p = tfl.layers.zeroPadding2d({ padding: 1, name: 'zp' }).apply(input) as tfl.SymbolicTensor;
  const a = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', name: 'a' }).apply(p) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'b' }).apply(a) as tfl.SymbolicTensor;
  const s = tfl.layers.add({ name: 'sum' }).apply([a, b]) as tfl.SymbolicTensor;
  const r = tfl.layers.activation({ activation: 'relu', name: 'r' }).apply(s) as tfl.SymbolicTensor;
  const f = tfl.layers.flatten({ name: 'flat' }).apply(r) as tfl.SymbolicTensor;
  const d = tfl.layers.dense({ units: 7, activation: 'softmax', name: 'fc' }).apply(f) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: d });
}

async function save(model: tfl.LayersModel, name: string): Promise<string> {
  // Non-trivial BatchNorm statistics, so the folding is tested.
  for (const layer of model.layers) {
    if (layer.getClassName() === 'BatchNormalization') layer.setWeights(layer.getWeights().map((w, i) => tfl.add(w, tfl.randomUniform(w.shape, i === 3 ? 0.5 : -0.2, 0.2, 'float32', i + 1))));
  }
  const folder = join(dir, name);
  await model.save(tfl.io.withSaveHandler(async (art) => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'w.bin'), new Uint8Array(art.weightData as ArrayBuffer));
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ modelTopology: art.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: art.weightSpecs }] }));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return join(folder, 'model.json');
}

describe('Keras graph runner: forward and input gradients against tfjs-layers', () => {
  beforeAll(async () => {
    await tfl.setBackend('cpu');
  });

  const cases = [
    { name: 'mobilenet-like', build: mobilenetLike, logitsLayer: 'preds', layer: 'r2' },
    { name: 'residual with a fused softmax head', build: residual, logitsLayer: null, layer: 'r' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      tfl.tidy(() => undefined);
      const keras = c.build();
      const ours = new KerasCnn(await loadKerasArtifacts(await save(keras, c.name)));
      const x = randomArray(32 * 32 * 3, 5);
      const target = 3;
      const xt = tf.tensor4d(x, [1, 32, 32, 3]);
      const pass = ours.forward(xt);
      const seed = new Float32Array(ours.numClasses);
      seed[target] = 1;
      const g = ours.gradients(pass, { seed, layers: [c.layer], guided: false, toInput: true });
      const [logits, dInput] = [pass.logits.dataSync().slice(), g.input!.dataSync().slice()];
      const guided = ours.gradients(pass, { seed, layers: [], guided: true, toInput: true });
      const dGuided = guided.input!.dataSync().slice();
      tf.dispose([xt, g.input!, guided.input!, ...Object.values(g.layers)]);
      pass.dispose();
      ours.dispose();

      // The logits: the softmax's input, or the fused-softmax layer's pre-activation.
      const logitsModel = c.logitsLayer
        ? tfl.model({ inputs: keras.inputs, outputs: keras.getLayer(c.logitsLayer).output as tfl.SymbolicTensor })
        : (() => {
            const fc = keras.getLayer('fc');
            const [kernel, bias] = fc.getWeights();
            const flat = tfl.model({ inputs: keras.inputs, outputs: keras.getLayer('flat').output as tfl.SymbolicTensor });
            return { predict: (v: tfl.Tensor) => tfl.add(tfl.matMul(flat.predict(v) as tfl.Tensor2D, kernel as tfl.Tensor2D), bias!) };
          })();
      const xr = tfl.tensor4d(x, [1, 32, 32, 3]);
      const score = (v: tfl.Tensor) => tfl.sum(tfl.mul(tfl.reshape(logitsModel.predict(v) as tfl.Tensor, [-1]), tfl.oneHot(target, logits.length)));
      expect(relL2(logits, tfl.reshape(logitsModel.predict(xr) as tfl.Tensor, [-1]).dataSync())).toBeLessThan(1e-5);
      const reference = tfl.grad(score)(xr).dataSync();
      expect(relL2(dInput, reference)).toBeLessThan(1e-4);
      expect(pearson(dInput, reference)).toBeGreaterThan(0.99999);
      // Guided backpropagation differs from the plain gradient but agrees with it where it is positive-only.
      expect(relL2(dGuided, reference)).toBeGreaterThan(1e-3);
    });
  }
});
