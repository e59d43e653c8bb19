import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { createExplainer, DisposedError, type ExplainOptions, type Explainer, type Explanation } from '../../src/index.js';
import { tf } from '../../src/tf.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';
import { randomArray } from '../helpers/random-weights.js';

const model = join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json');
const tensor = (side: number, seed: number) => ({ tensor: randomArray(3 * side * side, seed), shape: [1, 3, side, side] });

const expectSame = (a: Explanation, b: Explanation) => {
  expect(a.target).toBe(b.target);
  expect(a.logits).toEqual(b.logits);
  expect(a.combined).toEqual(b.combined);
  for (const l of Object.keys(b.cams)) expect(a.cams[l]!.map).toEqual(b.cams[l]!.map);
  expect(a.guided).toEqual(b.guided);
};

describe.skipIf(!hasMobilenet)(`concurrent calls on one MobileNet explainer${hasMobilenet ? '' : ` (${missingReason})`}`, () => {
  let ex: Explainer;
  beforeAll(async () => {
    ex = await createExplainer({ model, preprocess: 'tf' });
  });
  afterAll(() => ex?.dispose());

  test('give exactly the results of the same calls made in sequence', async () => {
    const calls: [ReturnType<typeof tensor>, ExplainOptions][] = [
      [tensor(96, 1), { guided: true }],
      [tensor(64, 2), { target: 7, layers: ['conv_pw_13_relu', 'conv_pw_11_relu'] }],
      [tensor(128, 3), { method: 'gradcam++', guided: true }],
      [tensor(80, 4), { target: 999 }],
      [tensor(96, 1), { layers: ['conv_pw_5_relu'], method: 'eigencam' }],
      [tensor(64, 5), { guided: true, target: 3 }],
    ];
    // In sequence first: a convolution with SAME padding prepares (and keeps) its filters once per padding,
    // which a new input size may change; after that nothing may stay behind.
    const inSequence: Explanation[] = [];
    for (const [x, o] of calls) inSequence.push(await ex.explain(x, o));
    const tensors = tf.memory().numTensors;
    const [together, logits] = await Promise.all([Promise.all(calls.map(([x, o]) => ex.explain(x, o))), ex.predict(calls[0]![0])]);
    for (const [i, e] of inSequence.entries()) expectSame(together[i]!, e);
    expect(logits).toEqual(together[0]!.logits);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  test('dispose() with calls in flight: the running call finishes, queued calls reject with DisposedError, then the model is freed', async () => {
    const tensors = tf.memory().numTensors;
    const own = await createExplainer({ model, preprocess: 'tf' });
    const held = tf.memory().numTensors;
    expect(held).toBeGreaterThan(tensors);
    const calls = Promise.allSettled([own.explain(tensor(96, 1), { guided: true }), own.explain(tensor(64, 2)), own.predict(tensor(64, 3))]);
    own.dispose();
    own.dispose();
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(held); // the running call still holds the model
    const [running, ...queued] = await calls;
    expect(running.status).toBe('fulfilled');
    expect((running as PromiseFulfilledResult<Explanation>).value.guided).toHaveLength(96 * 96 * 3);
    for (const q of queued) expect(q).toMatchObject({ status: 'rejected', reason: expect.any(DisposedError) });
    await expect(own.explain(tensor(64, 1))).rejects.toBeInstanceOf(DisposedError);
    await expect(own.predict(tensor(64, 1))).rejects.toBeInstanceOf(DisposedError);
    await new Promise((r) => setTimeout(r, 0));
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
