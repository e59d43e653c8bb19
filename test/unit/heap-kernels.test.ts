import { beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tf, type Tensor4D } from '../../src/tf.js';
import { startBackend, type RuntimeInfo } from '../../src/runtime/index.js';
import type { WasmHeap } from '../../src/ops/kernels/heap.js';
import { explicitPad } from '../../src/ops/kernels/conv-grad.js';
import { xnnpackConv } from '../../src/ops/kernels/gemm-conv.js';
import { winogradConv, winogradFilter, winogradInputGrad, winogradUsable } from '../../src/ops/kernels/winograd.js';
import { reluForward, reluGrad } from '../../src/ops/kernels/relu.js';
import { heapMatMuls, stackedMatMuls } from '../../src/ops/kernels/matmul.js';
import { addSame } from '../../src/ops/kernels/add.js';
import { randomArray } from '../helpers/random-weights.js';
import { maxAbs, maxAbsDiff } from '../helpers/metrics.js';

let info: RuntimeInfo;
let heap: WasmHeap;
beforeAll(async () => {
  ({ info, heap } = await startBackend());
});

/** Winograd F(2x2, 3x3) must give the 3x3 / stride 1 / pad 1 convolution, up to float32 rounding. */
describe('kernels on the wasm heap: Winograd F(2x2, 3x3) convolution, ReLU gradient', () => {
  test('Node loads the kernels onto the backend (threaded or not) and reports it', () => {
    expect(info.heapKernels).toBe(true);
    expect(info.gemmThreads).toBe(info.threads > 1 ? 2 : 1);
    expect(winogradUsable(heap, 64, 64)).toBe(true);
    // The kernels work on 4 channels at a time.
    expect(winogradUsable(heap, 6, 8)).toBe(false);
    expect(winogradUsable(heap, 8, 6)).toBe(false);
  });

  const cases: [number, number, number, number, number][] = [
    [1, 56, 56, 64, 64], // layer1
    [1, 75, 113, 64, 64], // layer1 of chelsea at its native size: odd sizes, half tiles at the edges
    [3, 7, 7, 8, 12], // a batch: its tiles are stacked in each plane
    [2, 5, 9, 12, 4],
    [1, 2, 3, 4, 8],
    [1, 1, 1, 4, 4],
  ];
  for (const [n, h, w, cin, cout] of cases) {
    test(`${n}x${h}x${w}, ${cin} -> ${cout} channels: forward with bias and ReLU, and the input gradient`, () => {
      const x = tf.tensor4d(randomArray(n * h * w * cin, h + w), [n, h, w, cin]);
      const oihw = randomArray(9 * cin * cout, cin * 7 + cout);
      const filter = tf.transpose(tf.tensor4d(oihw, [cout, cin, 3, 3]), [2, 3, 1, 0]) as Tensor4D; // HWIO
      const bias = tf.tensor1d(randomArray(cout, 5));
      // The planes U serve both: the forward's right operand, and the input gradient's, read transposed.
      const u = winogradFilter(heap, oihw, cin, cout);
      for (const activation of ['linear', 'relu'] as const) {
        const expected = xnnpackConv(x, filter, 1, explicitPad(1), bias, activation);
        const ours = winogradConv(heap, x, u, bias, activation);
        expect(ours.shape).toEqual(expected.shape);
        const e = expected.dataSync();
        expect(maxAbsDiff(ours.dataSync(), e)).toBeLessThanOrEqual(1e-5 * maxAbs(e));
        if (activation === 'relu') expect(ours.dataSync().reduce((m, v) => Math.min(m, v), Infinity)).toBe(0);
        tf.dispose([expected, ours]);
      }
      // Input gradient: tfjs's own Conv2DBackpropInput is the definition.
      const dy = tf.tensor4d(randomArray(n * h * w * cout, 3), [n, h, w, cout]);
      const expected = tf.conv2dTranspose(dy, filter, [n, h, w, cin], 1, 1);
      const e = expected.dataSync();
      const ours = winogradInputGrad(heap, dy, u);
      expect(ours.shape).toEqual([n, h, w, cin]);
      expect(maxAbsDiff(ours.dataSync(), e)).toBeLessThanOrEqual(1e-5 * maxAbs(e));
      tf.dispose([x, filter, bias, dy, expected, ours, ...u]);
    });
  }

  test('the filter planes U = G g G^T: float64 sums rounded once, each plane [Cin, Cout]', () => {
    const [cin, cout] = [12, 8];
    const g = randomArray(cout * cin * 9, 77);
    const planes = winogradFilter(heap, g, cin, cout);
    const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
    for (let co = 0; co < cout; co++) {
      for (let ci = 0; ci < cin; ci++) {
        const tap = (y: number, x: number) => g[((co * cin + ci) * 3 + y) * 3 + x]!;
        for (let a = 0; a < 4; a++) {
          for (let b = 0; b < 4; b++) {
            let u = 0; // sum over y, x of G[a][y] g[y][x] G[b][x], in float64
            for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) u += G[a]![y]! * tap(y, x) * G[b]![x]!;
            const ours = planes[a * 4 + b]!.dataSync()[ci * cout + co]!;
            expect(ours).toBeCloseTo(Math.fround(u), 6);
            // Separably, G g then times G^T, in float64 and rounded once: exactly the kernel's value.
            const gg = [0, 1, 2].map((x) => (a === 0 ? tap(0, x) : a === 3 ? tap(2, x) : (tap(0, x) + (a === 1 ? tap(1, x) : -tap(1, x)) + tap(2, x)) * 0.5));
            const [r0, r1, r2] = gg as [number, number, number];
            expect(ours).toBe(Math.fround(b === 0 ? r0 : b === 3 ? r2 : (r0 + (b === 1 ? r1 : -r1) + r2) * 0.5));
          }
        }
      }
    }
    tf.dispose(planes);
  });

  test('ReLU gradient kernel = the tfjs ops, plain and guided (odd sizes reach the scalar tail)', () => {
    for (const n of [1, 7, 56 * 56 * 64 + 3]) {
      const dy = tf.tensor4d(randomArray(n, n), [1, 1, 1, n]);
      const out = tf.relu(tf.tensor4d(randomArray(n, n + 1), [1, 1, 1, n]));
      for (const mode of ['plain', 'guided'] as const) {
        const expected = tf.mul(mode === 'guided' ? tf.relu(dy) : dy, tf.step(out));
        const ours = reluGrad(heap, dy as tf.Tensor4D, out as tf.Tensor4D, [mode]);
        // Equal values (-0 and 0 compare equal: masked negatives may keep their sign in tfjs).
        expect(maxAbsDiff(ours.dataSync(), expected.dataSync())).toBe(0);
        tf.dispose([expected, ours]);
      }
      // Two stacked gradient passes over the same output, each block with its own rule.
      const dy2 = tf.tidy(() => tf.concat([tf.neg(dy), dy]));
      const stacked = reluGrad(heap, dy2 as tf.Tensor4D, out as tf.Tensor4D, ['guided', 'plain']);
      const expected2 = tf.tidy(() => tf.concat([tf.mul(tf.relu(tf.neg(dy)), tf.step(out)), tf.mul(dy, tf.step(out))]));
      expect(stacked.shape).toEqual([2, 1, 1, n]);
      expect(maxAbsDiff(stacked.dataSync(), expected2.dataSync())).toBe(0);
      tf.dispose([dy, out, dy2, stacked, expected2]);
    }
  });

  test('matrix products on the heap kernel: the same bits as XNNPACK (tfjs matMul), every remainder of rows, columns and depth', () => {
    // Each output adds its products in order, a multiply then an add, as XNNPACK's wasm SIMD kernels do.
    let seed = 1;
    for (const m of [1, 3, 4, 5, 49])
      for (const k of [1, 3, 4, 7, 64])
        for (const n of [1, 2, 3, 4, 5, 8, 12, 20, 49]) {
          const a = tf.tensor2d(randomArray(m * k, seed++), [m, k]);
          const b = tf.tensor2d(randomArray(k * n, seed++), [k, n]);
          const [ours] = heapMatMuls(heap, [[a, b]]);
          const expected = tf.matMul(a, b);
          expect(ours!.shape).toEqual([m, n]);
          expect(maxAbsDiff(ours!.dataSync(), expected.dataSync()), `${m}x${k}x${n}`).toBe(0);
          tf.dispose([a, b, ours!, expected]);
        }
    // B over 256 KB goes in passes of 128 of its rows, each adding to what the last left in C: still the same bits.
    for (const [m, k, n] of [[5, 300, 229], [4, 257, 257], [1, 129, 1031]] as const) {
      const a = tf.tensor2d(randomArray(m * k, seed++), [m, k]);
      const b = tf.tensor2d(randomArray(k * n, seed++), [k, n]);
      const [ours] = heapMatMuls(heap, [[a, b]]);
      const expected = tf.matMul(a, b);
      expect(maxAbsDiff(ours!.dataSync(), expected.dataSync()), `${m}x${k}x${n}`).toBe(0);
      tf.dispose([a, b, ours!, expected]);
    }
    const a = tf.tensor2d(randomArray(12, 1), [3, 4]);
    expect(() => heapMatMuls(heap, [[a, a]])).toThrow(/do not multiply/);
    a.dispose();
  });

  test('B stored transposed (matmulBT: panels packed on the way) = B stored as it multiplies: the same bits, alone (cut by rows) and in a batch', () => {
    let seed = 500;
    // n: 8-column panels, a 4-column one and 1..3 columns read in place; k not a multiple of 4 reaches the packing's tail.
    for (const [m, k, n] of [[37, 64, 20], [9, 13, 11], [98, 256, 256], [4, 5, 3], [1, 8, 8], [130, 300, 517]] as const) {
      const a = tf.tensor2d(randomArray(m * k, seed++), [m, k]);
      const bT = tf.tensor2d(randomArray(n * k, seed++), [n, k]);
      const b = tf.transpose(bT) as tf.Tensor2D;
      const [ours] = heapMatMuls(heap, [[a, bT]], true);
      const [plain] = heapMatMuls(heap, [[a, b]]);
      const expected = tf.matMul(a, b);
      expect(ours!.shape).toEqual([m, n]);
      expect(maxAbsDiff(ours!.dataSync(), plain!.dataSync()), `${m}x${k}x${n}`).toBe(0);
      expect(maxAbsDiff(ours!.dataSync(), expected.dataSync()), `${m}x${k}x${n} against XNNPACK`).toBe(0);
      tf.dispose([a, bT, b, ours!, plain!, expected]);
    }
    const pairs = Array.from({ length: 16 }, (_, i) => [tf.tensor2d(randomArray(49 * 64, 2 * i + 700), [49, 64]), tf.tensor2d(randomArray(36 * 64, 2 * i + 701), [36, 64])] as const);
    const batch = heapMatMuls(heap, pairs, true);
    // The same products from one stack of left operands into one stack of outputs.
    const stack = tf.stack(pairs.map(([a]) => a)) as tf.Tensor3D;
    const stacked = stackedMatMuls(heap, stack, pairs.map(([, bT]) => bT), true);
    expect(stacked.shape).toEqual([16, 49, 36]);
    pairs.forEach(([a, bT], i) => {
      const expected = tf.tidy(() => tf.matMul(a, tf.transpose(bT)));
      expect(maxAbsDiff(batch[i]!.dataSync(), expected.dataSync()), `product ${i}`).toBe(0);
      expect(maxAbsDiff(stacked.dataSync().subarray(i * 49 * 36, (i + 1) * 49 * 36), expected.dataSync()), `stacked product ${i}`).toBe(0);
      expected.dispose();
    });
    expect(() => stackedMatMuls(heap, stack, pairs.slice(1).map(([, bT]) => bT), true)).toThrow(/16 left operands, 15 right ones/);
    tf.dispose([...batch, ...pairs.flat(), stack, stacked]);
    const [x, y] = [tf.ones([3, 4]) as tf.Tensor2D, tf.ones([5, 3]) as tf.Tensor2D];
    expect(() => heapMatMuls(heap, [[x, y]], true)).toThrow(/do not multiply/);
    tf.dispose([x, y]);
  });

  test('a batch of products split over two threads (threaded backend in Node) gives what one thread gives, product by product', () => {
    expect(info.threads).toBeGreaterThan(1); // the helper thread runs only then: this test must reach it
    const pairs = Array.from({ length: 16 }, (_, i) => [tf.tensor2d(randomArray(49 * 64, 2 * i + 1), [49, 64]), tf.tensor2d(randomArray(64 * 32, 2 * i + 2), [64, 32])] as const);
    for (let round = 0; round < 3; round++) {
      const batch = heapMatMuls(heap, pairs);
      pairs.forEach(([a, b], i) => {
        const expected = tf.matMul(a, b);
        expect(maxAbsDiff(batch[i]!.dataSync(), expected.dataSync()), `product ${i}`).toBe(0);
        expected.dispose();
      });
      tf.dispose(batch);
    }
    tf.dispose(pairs.flat());
    // A lone product is cut by rows into pieces both threads claim (at multiples of 4: rows 37 = 12 + 12 + 12 + 1).
    const lone = [tf.tensor2d(randomArray(37 * 64, 99), [37, 64]), tf.tensor2d(randomArray(64 * 20, 100), [64, 20])] as const;
    const [c] = heapMatMuls(heap, [lone]);
    const expected = tf.matMul(...lone);
    expect(maxAbsDiff(c!.dataSync(), expected.dataSync()), 'a lone product').toBe(0);
    tf.dispose([...lone, c!, expected]);
  });

  test('a product or an input transform that fails, on either thread, fails the call (no hang), and later products still come out right', () => {
    // In a process of its own: after a failure on the helper, the helper is dropped for the rest of the process.
    const dist = (f: string) => new URL(`../../dist/${f}`, import.meta.url).href;
    const code = `
      const { startBackend } = await import('${dist('runtime/index.js')}');
      const { tf } = await import('${dist('tf.js')}');
      const { heapMatMuls } = await import('${dist('ops/kernels/matmul.js')}');
      const { heap, info } = await startBackend({ threads: 2 });
      const a = tf.ones([4, 4]), b = tf.ones([4, 4]), big = tf.ones([384, 384]);
      const c = heap.output([384, 384]);
      const good = { a: heap.offset(big), b: heap.offset(big), c: heap.offset(c), m: 384, k: 384, n: 384 };
      // Its operand lies past the end of memory: it traps wherever it runs.
      const bad = { ...good, a: 2 ** 31 - 64 };
      const check = () => {
        const [ok] = heapMatMuls(heap, [[a, b], [a, b], [a, b]]);
        return Array.from(ok.dataSync()).every((v) => v === 4);
      };
      // Claimed first, the bad product fails on this thread, while the helper may be running the good one.
      try { heap.matmuls([bad, good]); console.log('no error'); } catch (e) { console.log(e.constructor.name, check()); }
      // A Winograd convolution's 16 products, each half reading the planes one input transform makes.
      const x = tf.broadcastTo(tf.reshape(tf.range(0, 56), [1, 56, 1, 1]), [1, 56, 56, 64]), u = tf.ones([64, 64]), v = heap.output([16, 784, 64]), m = heap.output([16, 784, 64]);
      const input = (half, at = heap.offset(x)) => ({ x: at, n: 1, h: 56, w: 56, c: 64, v: heap.offset(v), half });
      const products = Array.from({ length: 16 }, (_, p) => ({ a: heap.offset(v) + p * 784 * 256, b: heap.offset(u), c: heap.offset(m) + p * 784 * 256, m: 784, k: 64, n: 64, after: p >> 3 }));
      // The first half's transform fails on this thread (it claims product 0 first), the helper makes the second.
      try { heap.matmuls(products, [input(0, 2 ** 31 - 64), input(1)]); console.log('no error'); } catch (e) { console.log(e.constructor.name, check()); }
      // The second half's fails on the helper (it claims product 15 first) while this thread runs the first
      // half (~3 ms), then again here.
      try { heap.matmuls(products, [input(0), input(1, 2 ** 31 - 64)]); console.log('no error'); } catch (e) { console.log(e.constructor.name, check()); }
      // Claimed while this thread runs the good one (~3 ms), it fails on the helper (then again here).
      try { heap.matmuls([good, bad]); console.log('no error'); } catch (e) { console.log(e.constructor.name, check()); }
      heap.matmuls(products, [input(0), input(1)]); // by now on this thread alone
      // x's rows are 0..55: in tile 29 (rows 1..4), B^T d B's planes 1, 9 and 13 are -4, 2 and -4; times ones, 64x that.
      const plane = (p) => m.dataSync()[p * 784 * 64 + 29 * 64];
      console.log(info.threads, Array.from(c.dataSync().subarray(0, 3)).join(), plane(1), plane(9), plane(13));
      process.exit(0);`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stdout.trim().split('\n'), out.stderr).toEqual(['RuntimeError true', 'RuntimeError true', 'RuntimeError true', 'RuntimeError true', '2 384,384,384 -256 128 -256']);
  });

  test.runIf(existsSync('/proc/self/task'))('starting again from the same kernels reuses their instance and helper thread: no thread per start', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const dir = () => new URL('../../build/', import.meta.url);
    await startBackend({ heapKernels: dir() });
    const before = threads();
    for (let i = 0; i < 3; i++) await startBackend({ heapKernels: dir() });
    await startBackend();
    expect(threads()).toBe(before);
  });

  test.runIf(existsSync('/proc/self/task'))('fresh heap memory touched on another thread while this one writes it: every value is what was written; the thread exits once idle', () => {
    const dist = (f: string) => new URL(`../../dist/${f}`, import.meta.url).href;
    const code = `
      const { readdirSync } = await import('node:fs');
      const { startBackend } = await import('${dist('runtime/index.js')}');
      const { heap } = await startBackend({ threads: 2 });
      const threads = () => readdirSync('/proc/self/task').length;
      const before = threads();
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      // Outputs past the heap's frontier are touched from their ends: one written from its start, one from its end.
      const [up, down] = [heap.output([1 << 22]), heap.output([1 << 22])];
      const during = threads();
      const [u, d] = [heap.view(up), heap.view(down)];
      for (let i = 0; i < u.length; i++) u[i] = i;
      for (let i = d.length - 1; i >= 0; i--) d[i] = -i;
      await sleep(300);
      const same = heap.view(up).every((x, i) => x === i) && heap.view(down).every((x, i) => x === -i);
      await sleep(2500);
      console.log(JSON.stringify({ same, started: during - before, after: threads() - before }));
      process.exit(0);`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out.stdout.trim().split('\n').at(-1)!), out.stderr).toEqual({ same: true, started: 1, after: 0 });
  });

  test('ReLU kernel = tfjs Relu: NaN stays NaN, -0 becomes 0, odd sizes reach the scalar tail', () => {
    const special = [NaN, -0, 0, -1, 2, -Infinity, Infinity];
    for (const n of [1, 7, 9, 56 * 56 * 64 + 3]) {
      const values = randomArray(n, n);
      special.forEach((v, i) => i < n && (values[i] = v));
      const x = tf.tensor1d(values);
      const ours = reluForward(heap, x).dataSync();
      const expected = tf.relu(x).dataSync();
      expect(ours.every((v, i) => Object.is(v, expected[i]))).toBe(true);
      x.dispose();
    }
  });

  test('Add kernel = tfjs Add on tensors of one shape (NaN and infinities included, odd sizes reach the scalar tail); other shapes broadcast through tfjs', () => {
    const special = [NaN, -0, Infinity, -Infinity, 1e38];
    for (const n of [1, 7, 9, 14 * 14 * 256 + 3]) {
      const [av, bv] = [randomArray(n, 2 * n), randomArray(n, 2 * n + 1)];
      special.forEach((v, i) => i < n && ((av[i] = v), (bv[n - 1 - i] = v)));
      const [a, b] = [tf.tensor2d(av, [1, n]), tf.tensor2d(bv, [1, n])];
      const ours = addSame(heap, a, b);
      const expected = tf.add(a, b);
      expect(ours.shape).toEqual([1, n]);
      const [o, e] = [ours.dataSync(), expected.dataSync()];
      expect(o.every((v, i) => Object.is(v, e[i])), `n = ${n}`).toBe(true);
      tf.dispose([a, b, ours, expected]);
    }
    const [row, column] = [tf.tensor2d([1, 2, 3], [1, 3]), tf.tensor2d([10, 20], [2, 1])];
    const sum = addSame(heap, row, column);
    expect(Array.from(sum.dataSync())).toEqual([11, 12, 13, 21, 22, 23]);
    tf.dispose([row, column, sum]);
  });

  test('no tensor is left behind', () => {
    const x = tf.tensor4d(randomArray(8 * 8 * 4, 1), [1, 8, 8, 4]);
    const planes = winogradFilter(heap, randomArray(9 * 4 * 4, 2), 4, 4);
    const before = tf.memory().numTensors;
    tf.dispose(winogradConv(heap, x, planes));
    tf.dispose(winogradInputGrad(heap, x, planes));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...planes]);
  });

  test('kernels given explicitly that do not fit are a WasmInitError naming the file needed', () => {
    const attempt = (bytes: number[]) => {
      const code = `import('${new URL('../../dist/index.js', import.meta.url).href}').then((m) => m.createExplainer({ weights: new Uint8Array(8), threads: 2, heapKernels: new Uint8Array([${bytes}]) })).catch((e) => console.log(e.name + ': ' + e.message)).then(() => process.exit(0))`;
      return spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }).stdout;
    };
    const needs = /^WasmInitError: heapKernels could not be loaded for the threaded backend \(it needs heap-shared\.wasm\)/;
    expect(attempt([1, 2, 3])).toMatch(needs); // not wasm
    const empty = attempt([0, 97, 115, 109, 1, 0, 0, 0]); // a valid but empty module
    expect(empty).toMatch(needs);
    expect(empty).toMatch(/missing exports: winogradFilter, winogradInput, winogradOutput, reluGrad, maxPoolGrad/);
  });
});
