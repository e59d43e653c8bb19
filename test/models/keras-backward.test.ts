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
  const input = tfl.input({ shape: [32, 33, 3] });
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
  const input = tfl.input({ shape: [32, 33, 3] });
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

type Step = readonly [name: string, apply: (x: tfl.Tensor) => tfl.Tensor];
type Act = 'relu' | 'relu6';

/**
 * The test models written again as plain tf ops with their trained weights, so that tfjs autodiff
 * gives the reference gradients: plain, or guided (ReLU and ReLU6 pass only positive gradient where
 * their input is active: pytorch-grad-cam's GuidedBackpropReLU), from the logits to the input or to
 * any layer's output (the steps after it are the head).
 */
function referenceSteps(keras: tfl.LayersModel, name: string, guided: boolean): Step[] {
  const w = (layer: string) => keras.getLayer(layer).getWeights();
  const act = (a: Act) => tfl.customGrad((x, save) => {
    save([x as tfl.Tensor]);
    return {
      value: a === 'relu' ? tfl.relu(x as tfl.Tensor) : tfl.clipByValue(x as tfl.Tensor, 0, 6),
      gradFunc: (dy, [saved]) => {
        const active = a === 'relu' ? tfl.step(saved!) : tfl.mul(tfl.step(saved!), tfl.cast(tfl.less(saved!, 6), 'float32'));
        return tfl.mul(guided ? tfl.relu(dy as tfl.Tensor) : dy, active);
      },
    };
  });
  const conv = (layer: string, stride: number, pad: 'same' | 'valid') => (x: tfl.Tensor) => {
    const [k, b] = w(layer);
    const y = tfl.conv2d(x as tfl.Tensor4D, k as tfl.Tensor4D, stride, pad);
    return b ? tfl.add(y, b) : y;
  };
  const dw = (layer: string, stride: number) => (x: tfl.Tensor) => {
    const [k, b] = w(layer);
    const y = tfl.depthwiseConv2d(x as tfl.Tensor4D, k as tfl.Tensor4D, stride, 'same');
    return b ? tfl.add(y, b) : y;
  };
  const bn = (layer: string) => (x: tfl.Tensor) => {
    const [gamma, beta, mean, variance] = w(layer);
    return tfl.add(tfl.mul(tfl.div(tfl.sub(x, mean!), tfl.sqrt(tfl.add(variance!, 1e-3))), gamma!), beta!);
  };
  if (name === 'mobilenet-like') {
    return [
      ['c1', conv('c1', 2, 'same')], ['bn1', bn('bn1')], ['r1', act('relu6') as (x: tfl.Tensor) => tfl.Tensor],
      ['dw', dw('dw', 2)], ['bn2', bn('bn2')], ['r2', act('relu6') as (x: tfl.Tensor) => tfl.Tensor],
      ['dw2', dw('dw2', 1)], ['pw', (x) => (act('relu') as (x: tfl.Tensor) => tfl.Tensor)(conv('pw', 1, 'same')(x))],
      ['gap', (x) => tfl.reshape(tfl.mean(x, [1, 2]), [1, 1, 1, -1])], ['preds', conv('preds', 1, 'same')],
      ['logits', (x) => tfl.reshape(x, [-1])],
    ];
  }
  return [
    ['a', (x) => (act('relu') as (x: tfl.Tensor) => tfl.Tensor)(conv('a', 2, 'valid')(tfl.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])))],
    ['sum', (x) => tfl.add(x, conv('b', 1, 'same')(x))],
    ['r', act('relu') as (x: tfl.Tensor) => tfl.Tensor],
    ['logits', (x) => {
      const [kernel, bias] = w('fc');
      return tfl.reshape(tfl.add(tfl.matMul(tfl.reshape(x, [1, -1]), kernel as tfl.Tensor2D), bias!), [-1]);
    }],
  ];
}

const run = (steps: readonly Step[], x: tfl.Tensor) => steps.reduce((v, [, f]) => f(v), x);

// 32x33: TF 'same' padding of a stride-2 conv then pads top and left differently (0 and 1).
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
      const x = randomArray(32 * 33 * 3, 5);
      const target = 3;
      const xt = tf.tensor4d(x, [1, 32, 33, 3]);
      const pass = ours.forward(xt);
      const seed = new Float32Array(ours.numClasses);
      seed[target] = 1;
      const g = ours.gradients(pass, { seed, layers: [c.layer], guided: false, toInput: true });
      const [logits, dInput, dLayer] = [pass.logits.dataSync().slice(), g.input!.dataSync().slice(), g.layers[c.layer]!.dataSync().slice()];
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
      const xr = tfl.tensor4d(x, [1, 32, 33, 3]);
      const oneHot = tfl.oneHot(target, logits.length);
      const score = (v: tfl.Tensor) => tfl.sum(tfl.mul(tfl.reshape(logitsModel.predict(v) as tfl.Tensor, [-1]), oneHot));
      expect(relL2(logits, tfl.reshape(logitsModel.predict(xr) as tfl.Tensor, [-1]).dataSync())).toBeLessThan(1e-5);
      const reference = tfl.grad(score)(xr).dataSync();
      expect(relL2(dInput, reference)).toBeLessThan(1e-4);
      expect(pearson(dInput, reference)).toBeGreaterThan(0.99999);

      // The plain-op rewrite is the same network (its logits and gradient agree with tfjs-layers') ...
      const plain = referenceSteps(keras, c.name, false);
      const refScore = (steps: readonly Step[]) => (v: tfl.Tensor) => tfl.sum(tfl.mul(run(steps, v), oneHot));
      expect(relL2(logits, run(plain, xr).dataSync())).toBeLessThan(1e-5);
      expect(relL2(tfl.grad(refScore(plain))(xr).dataSync(), reference)).toBeLessThan(1e-5);
      // ... so autodiff through it with the guided rule is the guided reference.
      const guidedRef = tfl.grad(refScore(referenceSteps(keras, c.name, true)))(xr).dataSync();
      // (Non-zero, so an all-zero result cannot pass the relative check below; the models' weights are random.)
      const peak = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));
      expect(peak(guidedRef)).toBeGreaterThan(1e-3 * peak(reference));
      expect(relL2(guidedRef, reference)).toBeGreaterThan(1e-2);
      expect(relL2(dGuided, guidedRef)).toBeLessThan(1e-4);
      expect(pearson(dGuided, guidedRef)).toBeGreaterThan(0.99999);

      // The layer gradient: autodiff of the head (the steps after the layer) at the layer's output.
      const at = plain.findIndex(([n]) => n === c.layer);
      const activation = run(plain.slice(0, at + 1), xr);
      const layerRef = tfl.grad(refScore(plain.slice(at + 1)))(activation).dataSync();
      expect(dLayer.length).toBe(layerRef.length);
      expect(peak(layerRef)).toBeGreaterThan(0);
      expect(relL2(dLayer, layerRef)).toBeLessThan(1e-4);
    });
  }
});
