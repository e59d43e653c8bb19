#!/usr/bin/env node
// How fast WebAssembly SIMD can multiply-add on this machine, and what that means for the seed figure:
//   - the clock (a chain of dependent integer additions, one per cycle);
//   - a 4x8 GEMM block's inner loop on data in L1 (the shape of our heap GEMM's), as a multiply then an add
//     (plain SIMD, what every runtime runs) and as relaxed SIMD's fused multiply-add (f32x4.relaxed_madd, in a
//     child process with --experimental-wasm-relaxed-simd: Node 20 has it off), on one thread and on every
//     core at once;
//   - our heap GEMM (build/heap.wasm) on the very products a seed figure runs (their shapes and counts from
//     bench/profile.js --json), one thread;
//   - the floor: the figure's multiply-adds (bench/profile.js) at the all-cores plain-SIMD peak, no other work.
//   node bench/peak.js [--json]     (npm run bench -- --peak)
// The loops are AssemblyScript compiled here by asc's API (a dev dependency), not part of the package.
import asc from 'assemblyscript/asc';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

// 32 multiply-adds per step: 2 vectors of B, 4 of A's values splatted, 8 sums, as assembly/heap.ts's block.
const blockLoop = (step) => `
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const end = <usize>n << 2;
  let i: usize = 0;
  if (i < end) do {
    const at = i & 1023;
    const b0 = v128.load(b + (at << 3));
    const b1 = v128.load(b + (at << 3), 16);
    let s = v128.load32_splat(a + at);
    c00 = ${step('c00', 's', 'b0')}; c01 = ${step('c01', 's', 'b1')};
    s = v128.load32_splat(a + at, 1024);
    c10 = ${step('c10', 's', 'b0')}; c11 = ${step('c11', 's', 'b1')};
    s = v128.load32_splat(a + at, 2048);
    c20 = ${step('c20', 's', 'b0')}; c21 = ${step('c21', 's', 'b1')};
    s = v128.load32_splat(a + at, 3072);
    c30 = ${step('c30', 's', 'b0')}; c31 = ${step('c31', 's', 'b1')};
    i += 4;
  } while (i < end);
  const t = f32x4.add(f32x4.add(f32x4.add(c00, c01), f32x4.add(c10, c11)), f32x4.add(f32x4.add(c20, c21), f32x4.add(c30, c31)));
  return f32x4.extract_lane(t, 0);`;
/** The loops' source; a module holding the FMA loop does not compile where relaxed SIMD is off. */
const source = (withFma) => `
export function chain(n: i32, x: i64, d: i64): i64 {
  for (let i = 0; i < n; i++) {
    x += d; x ^= d; x += d; x ^= d; x += d; x ^= d; x += d; x ^= d;
    x += d; x ^= d; x += d; x ^= d; x += d; x ^= d; x += d; x ^= d;
  }
  return x;
}
export function mulAdd(n: i32, a: usize, b: usize): f32 {${blockLoop((c, s, b) => `f32x4.add(${c}, f32x4.mul(${s}, ${b}))`)}
}
${withFma ? `export function fma(n: i32, a: usize, b: usize): f32 {${blockLoop((c, s, b) => `f32x4.relaxed_madd(${s}, ${b}, ${c})`)}
}` : ''}`;

/** Best of 5 runs of `fn`, in ms. */
function best(fn) {
  let ms = Infinity;
  for (let t = 0; t < 5; t++) {
    const t0 = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

const STEPS = 1e7;
/** This thread's measures, their rounds interleaved (the machine's speed drifts) and the best of each kept: the clock in GHz, each loop of `kinds` and each extra measure of `more` (name -> function giving GMAC/s). */
function measure(binary, kinds, more = {}, rounds = 5) {
  const ex = new WebAssembly.Instance(new WebAssembly.Module(binary), {}).exports;
  for (const kind of kinds) ex[kind](1000, 0, 4096); // compiled before timing
  const out = { ghz: 0 };
  for (let r = 0; r < rounds; r++) {
    out.ghz = Math.max(out.ghz, (16 * STEPS) / best(() => ex.chain(STEPS, 1n, 12345n)) / 1e6);
    for (const kind of kinds) out[kind] = Math.max(out[kind] ?? 0, (32 * STEPS) / best(() => ex[kind](STEPS, 0, 4096)) / 1e6);
    for (const [name, fn] of Object.entries(more)) out[name] = Math.max(out[name] ?? 0, fn());
  }
  return out;
}

if (!isMainThread) {
  parentPort.postMessage(measure(workerData.binary, ['mulAdd'], {}, 2));
} else if (process.argv.includes('--child')) {
  // Relaxed SIMD needs the flag this process was started with: plain and FMA alternating; one JSON line.
  console.log(JSON.stringify(measure(await compile(true), ['mulAdd', 'fma'], {}, 9)));
} else {
  await main();
}

async function compile(withFma) {
  const { binary, error, stderr } = await asc.compileString({ 'peak.ts': source(withFma) }, { optimizeLevel: 3, runtime: 'stub', noAssert: true, initialMemory: 1, enable: ['simd', 'relaxed-simd'] });
  if (error || !binary) throw new Error(`asc: ${error?.message} ${stderr}`);
  return binary;
}

/** The plain loop on `availableParallelism()` threads at once: their sum, GMAC/s. */
async function allThreads(binary) {
  const rows = await Promise.all(
    Array.from({ length: availableParallelism() }, () => new Promise((resolve, reject) => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { binary } });
      w.once('message', resolve);
      w.once('error', reject);
    })),
  );
  return { gmacs: rows.reduce((s, r) => s + r.mulAdd, 0), threads: rows.length };
}

/** A function timing our heap GEMM over the figure's products (each shape as often as the figure runs it), giving GMAC/s. */
function heapGemm(products) {
  const memory = new WebAssembly.Memory({ initial: 1600 }); // 100 MB
  const wasm = readFileSync(fileURLToPath(new URL('../build/heap.wasm', import.meta.url)));
  const { matmul } = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { memory } }).exports;
  new Float32Array(memory.buffer).forEach((_, i, f) => (f[i] = (i % 97) / 97 - 0.5));
  const shapes = Object.entries(products).map(([shape, count]) => {
    const [m, k, n] = shape.split('x').map(Number);
    if (4 * (m * k + k * n * 16 + m * n) > memory.buffer.byteLength) throw new Error(`product ${shape} does not fit the bench's memory`);
    return { m, k, n, count };
  });
  return () => {
    let macs = 0;
    let ms = 0;
    for (const { m, k, n, count } of shapes) {
      const b = 4 * m * k;
      const c = b + 4 * k * n * 16;
      // 16 right operands in turn, as a Winograd convolution's planes
      const t = best(() => {
        for (let r = 0; r < 16; r++) matmul(0, b + r * 4 * k * n, c, m, k, n);
      });
      macs += m * k * n * count;
      ms += (t / 16) * count;
    }
    return macs / ms / 1e6;
  };
}

async function main() {
  const { values: opts } = parseArgs({ options: { json: { type: 'boolean', default: false }, peak: { type: 'boolean' } } });
  const here = fileURLToPath(new URL('.', import.meta.url));
  const profile = spawnSync(process.execPath, [`${here}profile.js`, '--json', '--runs', '3'], { encoding: 'utf8' });
  if (profile.status !== 0) throw new Error(`bench/profile.js failed: ${profile.stderr}`);
  const figure = JSON.parse(profile.stdout.trim().split('\n').at(-1));
  const binary = await compile(false);
  const one = measure(binary, ['mulAdd'], { gemm: heapGemm(figure.products) });
  const all = await allThreads(binary);
  const child = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', fileURLToPath(import.meta.url), '--child'], { encoding: 'utf8' });
  const fma = child.status === 0 ? JSON.parse(child.stdout.trim().split('\n').at(-1)) : { error: child.stderr.trim().split('\n').at(-1) };
  const gmacs = figure.heapGemmGmacs + figure.xnnpackConvGmacs;
  const floorMs = (gmacs / all.gmacs) * 1e3;
  const r = (x, d = 1) => +x.toFixed(d);
  const result = {
    clockGHz: r(one.ghz, 2),
    plainSimd: { oneThreadGmacPerSec: r(one.mulAdd), allThreadsGmacPerSec: r(all.gmacs), threads: all.threads, multiplyAddsPerCycle: r(one.mulAdd / one.ghz, 2) },
    relaxedFma: fma.error ? fma : { oneThreadGmacPerSec: r(fma.fma), overPlainSameProcess: r(fma.fma / fma.mulAdd, 2) },
    heapGemmOnFigureProducts: { oneThreadGmacPerSec: r(one.gemm), overPlainPeak: r(one.gemm / one.mulAdd, 2) },
    figure: {
      ms: figure.figureMs,
      gmacs: r(gmacs, 3),
      heapGemmGmacs: figure.heapGemmGmacs,
      xnnpackConvGmacs: figure.xnnpackConvGmacs,
      gmacPerSec: r(gmacs / figure.figureMs * 1e3),
      floorMs: r(floorMs),
      overFloor: r(figure.figureMs / floorMs, 2),
    },
  };
  if (opts.json) console.log(JSON.stringify(result));
  else {
    console.log(`clock ~${result.clockGHz} GHz`);
    console.log(`plain SIMD multiply-add: ${result.plainSimd.oneThreadGmacPerSec} GMAC/s on one thread (${result.plainSimd.multiplyAddsPerCycle} per cycle), ${result.plainSimd.allThreadsGmacPerSec} on ${result.plainSimd.threads} threads`);
    console.log(fma.error ? `relaxed SIMD FMA: not measured (${fma.error})` : `relaxed SIMD FMA: ${result.relaxedFma.oneThreadGmacPerSec} GMAC/s on one thread, ${result.relaxedFma.overPlainSameProcess}x plain SIMD alternating with it`);
    console.log(`heap GEMM on the figure's products: ${result.heapGemmOnFigureProducts.oneThreadGmacPerSec} GMAC/s on one thread (${result.heapGemmOnFigureProducts.overPlainPeak}x the plain peak)`);
    const f = result.figure;
    console.log(`seed figure (profiled by bench/profile.js, each node's calls timed): ${f.ms} ms for ${f.gmacs} G multiply-adds (heap GEMM ${f.heapGemmGmacs}, XNNPACK convs ${f.xnnpackConvGmacs}): ${f.gmacPerSec} GMAC/s`);
    console.log(`floor at the all-threads plain peak: ${f.floorMs} ms (the figure takes ${f.overFloor}x that)`);
  }
}
