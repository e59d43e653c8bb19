// Kernels that run on tfjs-wasm's own heap: this module imports that memory (no data, no allocator),
// so tensors are read and written in place, by byte offset. NHWC, one image per call (callers step
// through a batch by offset).
//
// Winograd F(2x2, 3x3) transforms (channels a multiple of 4): tiles are 4x4 input windows at stride 2
// (pad 1), giving 2x2 outputs. V = B^T d B per tile and channel (16 planes, each [tiles, c]); Y = A^T M A
// from the 16 GEMM results.

@inline
function tap(ok: bool, at: usize): v128 {
  return ok ? v128.load(at) : f32x4.splat(0);
}

/**
 * The 16 Winograd planes U = G g G^T of a 3x3 filter g, OIHW [cout, cin, 3, 3], each plane [cin, cout]
 * (written row by row). In float64, rounded once to float32 at the end (G's entries are 0, +-1/2 and 1:
 * G g, then times G^T, 24 additions per filter).
 */
export function winogradFilter(
  g: usize, cin: i32, cout: i32,
  u0: usize, u1: usize, u2: usize, u3: usize, u4: usize, u5: usize, u6: usize, u7: usize,
  u8: usize, u9: usize, u10: usize, u11: usize, u12: usize, u13: usize, u14: usize, u15: usize,
): void {
  const filter = <usize>cin * 36; // one output channel's taps, in bytes
  for (let ci = 0; ci < cin; ci++) {
    for (let co = 0; co < cout; co++) {
      const t = g + <usize>co * filter + <usize>ci * 36; // taps g[y][x] at t + (3 y + x) * 4
      const o = <usize>(ci * cout + co) << 2;
      const g00 = <f64>load<f32>(t), g01 = <f64>load<f32>(t, 4), g02 = <f64>load<f32>(t, 8);
      const g10 = <f64>load<f32>(t, 12), g11 = <f64>load<f32>(t, 16), g12 = <f64>load<f32>(t, 20);
      const g20 = <f64>load<f32>(t, 24), g21 = <f64>load<f32>(t, 28), g22 = <f64>load<f32>(t, 32);
      // Row a of G g (G's rows: [1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]), then times G^T.
      row(u0 + o, u1 + o, u2 + o, u3 + o, g00, g01, g02);
      row(u4 + o, u5 + o, u6 + o, u7 + o, (g00 + g10 + g20) * 0.5, (g01 + g11 + g21) * 0.5, (g02 + g12 + g22) * 0.5);
      row(u8 + o, u9 + o, u10 + o, u11 + o, (g00 - g10 + g20) * 0.5, (g01 - g11 + g21) * 0.5, (g02 - g12 + g22) * 0.5);
      row(u12 + o, u13 + o, u14 + o, u15 + o, g20, g21, g22);
    }
  }
}

/** One row of U from a row (t0, t1, t2) of G g: times G^T, each value rounded once to float32. */
@inline
function row(p0: usize, p1: usize, p2: usize, p3: usize, t0: f64, t1: f64, t2: f64): void {
  store<f32>(p0, <f32>t0);
  store<f32>(p1, <f32>((t0 + t1 + t2) * 0.5));
  store<f32>(p2, <f32>((t0 - t1 + t2) * 0.5));
  store<f32>(p3, <f32>t2);
}

/**
 * Half of the 16 transformed input planes of n images x [n, h, w, c] (images h * w * c floats apart):
 * planes 0..7 (half 0: rows 0..1 of B^T d, from window rows 0..2) or 8..15 (half 1: rows 2..3, from window
 * rows 1..3), in the stack v [16, n * tiles, c] (see the layouts above). Two calls, one per half, make all
 * 16; they are independent, so two threads can each make one. Eight planes at a time keep the values in
 * registers (all sixteen made V8 spill), and tiles whose whole window lies inside x load without bounds
 * checks: ResNet34's layer1 transform (2 images, 56x56x64) 1.03 -> 0.26 ms, the same bits.
 */
export function winogradInput(x: usize, n: i32, h: i32, w: i32, c: i32, v: usize, half: i32): void {
  const th = (h + 1) >> 1;
  const tiles = <usize>(th * ((w + 1) >> 1));
  const px = <usize>c << 2;
  const plane = <usize>n * tiles * px; // bytes from one plane to the next
  const second = half != 0;
  for (let i = 0; i < n; i++) {
    const xi = x + <usize>i * <usize>h * <usize>w * px;
    const vi = v + (second ? 8 * plane : 0) + <usize>i * tiles * px;
    for (let ty = 0; ty < th; ty++) inputHalf(xi, h, w, c, second ? 2 * ty : 2 * ty - 1, second, vi, plane);
  }
}

/**
 * Eight planes (the first at v, `plane` bytes apart) of one tile row from window rows y0..y0 + 2 (d0, d1,
 * d2): rows 0..1 of B^T d (d0 - d2, d1 + d2) or, `second`, rows 2..3 (the window's d2 - d1, d1 - d3, i.e.
 * d1 - d0 and d0 - d2 of these rows).
 */
function inputHalf(x: usize, h: i32, w: i32, c: i32, y0: i32, second: bool, v: usize, plane: usize): void {
  const tw = (w + 1) >> 1;
  const px = <usize>c << 2;
  const row = <usize>w * px;
  const r0 = y0 >= 0, r1 = y0 + 1 < h, r2 = y0 + 2 < h;
  const first = <usize>((y0 + (second ? 0 : 1)) >> 1) * tw; // this tile row's first tile
  for (let tx = 0; tx < tw; tx++) {
    const x0 = 2 * tx - 1;
    const c0 = x0 >= 0, c1 = x0 + 1 < w, c2 = x0 + 2 < w, c3 = x0 + 3 < w;
    // Address of window pixel (0, 0); it may lie outside x, and is then never read.
    const win = x + <usize>(y0 * w + x0) * px;
    const out = v + (first + <usize>tx) * px;
    if (r0 && r2 && c0 && c3) {
      for (let k: usize = 0; k < px; k += 16) {
        const p0 = win + k, p1 = p0 + row, p2 = p1 + row;
        inputRows(
          v128.load(p0), v128.load(p0 + px), v128.load(p0 + 2 * px), v128.load(p0 + 3 * px),
          v128.load(p1), v128.load(p1 + px), v128.load(p1 + 2 * px), v128.load(p1 + 3 * px),
          v128.load(p2), v128.load(p2 + px), v128.load(p2 + 2 * px), v128.load(p2 + 3 * px),
          second, out + k, plane,
        );
      }
    } else {
      for (let k: usize = 0; k < px; k += 16) {
        const p0 = win + k, p1 = p0 + row, p2 = p1 + row;
        inputRows(
          tap(r0 && c0, p0), tap(r0 && c1, p0 + px), tap(r0 && c2, p0 + 2 * px), tap(r0 && c3, p0 + 3 * px),
          tap(r1 && c0, p1), tap(r1 && c1, p1 + px), tap(r1 && c2, p1 + 2 * px), tap(r1 && c3, p1 + 3 * px),
          tap(r2 && c0, p2), tap(r2 && c1, p2 + px), tap(r2 && c2, p2 + 2 * px), tap(r2 && c3, p2 + 3 * px),
          second, out + k, plane,
        );
      }
    }
  }
}

/** Two rows of B^T d from three window rows (see inputHalf), times B, stored at o in eight planes `plane` bytes apart. */
@inline
function inputRows(
  d00: v128, d01: v128, d02: v128, d03: v128, d10: v128, d11: v128, d12: v128, d13: v128,
  d20: v128, d21: v128, d22: v128, d23: v128, second: bool, o: usize, plane: usize,
): void {
  // B^T rows: [1,0,-1,0], [0,1,1,0], [0,-1,1,0], [0,1,0,-1]
  let a0: v128, a1: v128, a2: v128, a3: v128, b0: v128, b1: v128, b2: v128, b3: v128;
  if (second) {
    a0 = f32x4.sub(d10, d00); a1 = f32x4.sub(d11, d01); a2 = f32x4.sub(d12, d02); a3 = f32x4.sub(d13, d03);
    b0 = f32x4.sub(d00, d20); b1 = f32x4.sub(d01, d21); b2 = f32x4.sub(d02, d22); b3 = f32x4.sub(d03, d23);
  } else {
    a0 = f32x4.sub(d00, d20); a1 = f32x4.sub(d01, d21); a2 = f32x4.sub(d02, d22); a3 = f32x4.sub(d03, d23);
    b0 = f32x4.add(d10, d20); b1 = f32x4.add(d11, d21); b2 = f32x4.add(d12, d22); b3 = f32x4.add(d13, d23);
  }
  // (B^T d) B
  v128.store(o, f32x4.sub(a0, a2)); v128.store(o + plane, f32x4.add(a1, a2));
  v128.store(o + 2 * plane, f32x4.sub(a2, a1)); v128.store(o + 3 * plane, f32x4.sub(a1, a3));
  v128.store(o + 4 * plane, f32x4.sub(b0, b2)); v128.store(o + 5 * plane, f32x4.add(b1, b2));
  v128.store(o + 6 * plane, f32x4.sub(b2, b1)); v128.store(o + 7 * plane, f32x4.sub(b1, b3));
}

/**
 * y [h, w, c] from the 16 GEMM results m0..m15 (layouts above); plus bias[c] when bias != 0, then
 * max(0, .) when relu.
 */
export function winogradOutput(
  y: usize, h: i32, w: i32, c: i32, bias: usize, relu: bool,
  m0: usize, m1: usize, m2: usize, m3: usize, m4: usize, m5: usize, m6: usize, m7: usize,
  m8: usize, m9: usize, m10: usize, m11: usize, m12: usize, m13: usize, m14: usize, m15: usize,
): void {
  const th = (h + 1) >> 1;
  const tw = (w + 1) >> 1;
  const px = <usize>c << 2;
  const row = <usize>w * px;
  const zero = f32x4.splat(0);
  for (let ty = 0; ty < th; ty++) {
    const down = 2 * ty + 1 < h;
    for (let tx = 0; tx < tw; tx++) {
      const right = 2 * tx + 1 < w;
      const dst = y + <usize>(2 * ty * w + 2 * tx) * px;
      const tile = <usize>(ty * tw + tx);
      const src = tile * px;
      for (let k: usize = 0; k < px; k += 16) {
        const i = src + k;
        const q0 = v128.load(m0 + i), q1 = v128.load(m1 + i), q2 = v128.load(m2 + i), q3 = v128.load(m3 + i);
        const q4 = v128.load(m4 + i), q5 = v128.load(m5 + i), q6 = v128.load(m6 + i), q7 = v128.load(m7 + i);
        const q8 = v128.load(m8 + i), q9 = v128.load(m9 + i), q10 = v128.load(m10 + i), q11 = v128.load(m11 + i);
        const q12 = v128.load(m12 + i), q13 = v128.load(m13 + i), q14 = v128.load(m14 + i), q15 = v128.load(m15 + i);
        // A^T M (A^T rows: [1,1,1,0], [0,1,-1,-1])
        const s0 = f32x4.add(f32x4.add(q0, q4), q8), s1 = f32x4.add(f32x4.add(q1, q5), q9);
        const s2 = f32x4.add(f32x4.add(q2, q6), q10), s3 = f32x4.add(f32x4.add(q3, q7), q11);
        const t0 = f32x4.sub(f32x4.sub(q4, q8), q12), t1 = f32x4.sub(f32x4.sub(q5, q9), q13);
        const t2 = f32x4.sub(f32x4.sub(q6, q10), q14), t3 = f32x4.sub(f32x4.sub(q7, q11), q15);
        // (A^T M) A
        let y00 = f32x4.add(f32x4.add(s0, s1), s2), y01 = f32x4.sub(f32x4.sub(s1, s2), s3);
        let y10 = f32x4.add(f32x4.add(t0, t1), t2), y11 = f32x4.sub(f32x4.sub(t1, t2), t3);
        if (bias) {
          const b = v128.load(bias + k);
          y00 = f32x4.add(y00, b); y01 = f32x4.add(y01, b); y10 = f32x4.add(y10, b); y11 = f32x4.add(y11, b);
        }
        if (relu) {
          y00 = f32x4.max(y00, zero); y01 = f32x4.max(y01, zero); y10 = f32x4.max(y10, zero); y11 = f32x4.max(y11, zero);
        }
        const o = dst + k;
        v128.store(o, y00);
        if (right) v128.store(o + px, y01);
        if (down) {
          v128.store(o + row, y10);
          if (right) v128.store(o + row + px, y11);
        }
      }
    }
  }
}

/** y = max(x, 0), n elements: NaN stays NaN and -0 becomes 0, as tfjs-wasm's Relu does. */
export function relu(x: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const end = <usize>(n & ~3) << 2;
  for (let i: usize = 0; i < end; i += 16) v128.store(y + i, f32x4.max(v128.load(x + i), zero));
  for (let i = end; i < <usize>n << 2; i += 4) store<f32>(y + i, max(load<f32>(x + i), 0));
}

/** y = a + b, n elements (y may be a or b). */
export function add(a: usize, b: usize, y: usize, n: i32): void {
  const end = <usize>(n & ~3) << 2;
  for (let i: usize = 0; i < end; i += 16) v128.store(y + i, f32x4.add(v128.load(a + i), v128.load(b + i)));
  for (let i = end; i < <usize>n << 2; i += 4) store<f32>(y + i, load<f32>(a + i) + load<f32>(b + i));
}

/**
 * Gradient through a ReLU from its output: dx = out > 0 ? dy : 0, and with `guided` also 0 where
 * dy < 0 (guided backpropagation). n elements.
 */
export function reluGrad(dy: usize, out: usize, dx: usize, n: i32, guided: bool): void {
  const zero = f32x4.splat(0);
  const end = <usize>(n & ~3) << 2;
  for (let i: usize = 0; i < end; i += 16) {
    let g = v128.load(dy + i);
    if (guided) g = f32x4.max(g, zero);
    v128.store(dx + i, v128.and(g, f32x4.gt(v128.load(out + i), zero)));
  }
  for (let i = end; i < <usize>n << 2; i += 4) {
    let g = load<f32>(dy + i);
    if (guided && g < 0) g = 0;
    store<f32>(dx + i, load<f32>(out + i) > 0 ? g : 0);
  }
}

/**
 * Byte offset of the element of window rows y0..y1, columns x0..x1 (channel ch) that PyTorch routes the
 * gradient to: the first equal to the window's maximum m, or, when m is NaN, the last NaN. -1 if none.
 */
@inline
function argmaxAt(x: usize, m: f32, y0: i32, y1: i32, x0: i32, x1: i32, w: i32, c: i32, ch: i32): isize {
  let last: isize = -1;
  for (let yy = y0; yy < y1; yy++) {
    for (let xx = x0; xx < x1; xx++) {
      const at = <usize>((yy * w + xx) * c + ch) << 2;
      const v = load<f32>(x + at);
      if (m != m) {
        if (v != v) last = <isize>at;
      } else if (v == m) {
        return <isize>at;
      }
    }
  }
  return last;
}

/**
 * Max-pool gradient, PyTorch's rule: each window's gradient goes to its FIRST maximum in row-major
 * order, found by comparing the input with the pooled output (the window's maximum). x/dx [h, w, c],
 * pooled/dy [oh, ow, c]. Windows whose gradient is 0 are skipped. Four channels at a time where their
 * maxima are numbers (maxPoolGrad4); one at a time where one is NaN, and for the last c % 4 channels.
 */
export function maxPoolGrad(x: usize, pooled: usize, dy: usize, dx: usize, h: i32, w: i32, c: i32, oh: i32, ow: i32, size: i32, stride: i32, pad: i32): void {
  memory.fill(dx, 0, <usize>(h * w * c) << 2);
  for (let oy = 0; oy < oh; oy++) {
    const y0 = max(oy * stride - pad, 0);
    const y1 = min(oy * stride - pad + size, h);
    for (let ox = 0; ox < ow; ox++) {
      const x0 = max(ox * stride - pad, 0);
      const x1 = min(ox * stride - pad + size, w);
      const o = <usize>((oy * ow + ox) * c) << 2;
      let ch = 0;
      for (; ch + 4 <= c; ch += 4) {
        const at = o + (<usize>ch << 2);
        const m = v128.load(pooled + at);
        if (!v128.any_true(f32x4.ne(m, m))) maxPoolGrad4(x + (<usize>ch << 2), m, v128.load(dy + at), dx + (<usize>ch << 2), y0, y1, x0, x1, w, c);
        else for (let k = ch; k < ch + 4; k++) maxPoolGrad1(x, pooled, dy, dx, o, k, y0, y1, x0, x1, w, c);
      }
      for (; ch < c; ch++) maxPoolGrad1(x, pooled, dy, dx, o, ch, y0, y1, x0, x1, w, c);
    }
  }
}

/** One window's gradient for channel ch (o: the window's byte offset in pooled and dy). */
@inline
function maxPoolGrad1(x: usize, pooled: usize, dy: usize, dx: usize, o: usize, ch: i32, y0: i32, y1: i32, x0: i32, x1: i32, w: i32, c: i32): void {
  const g = load<f32>(dy + o + (<usize>ch << 2));
  if (g == 0) return;
  const at = argmaxAt(x, load<f32>(pooled + o + (<usize>ch << 2)), y0, y1, x0, x1, w, c, ch);
  if (at != -1) store<f32>(dx + at, load<f32>(dx + at) + g);
}

/**
 * One window's gradient g for four channels whose maxima m are numbers: at each position, in row-major
 * order, the lanes equal to m that have not found theirs yet take g. The other lanes add +0, which changes
 * nothing: dx starts at +0 and a sum of gradients is never -0, so the bits are those of maxPoolGrad1. Every
 * position adds, with no branch on whether a lane hit: branching on it (data-dependent) made the kernel
 * 5x slower (ResNet34's stem pool, 2 x 112x112x64: 7.2 -> 1.3 ms).
 */
@inline
function maxPoolGrad4(x: usize, m: v128, g: v128, dx: usize, y0: i32, y1: i32, x0: i32, x1: i32, w: i32, c: i32): void {
  if (i32x4.all_true(f32x4.eq(g, f32x4.splat(0)))) return;
  let found = i32x4.splat(0);
  for (let yy = y0; yy < y1; yy++) {
    for (let xx = x0; xx < x1; xx++) {
      const at = <usize>((yy * w + xx) * c) << 2;
      const hit = v128.andnot(f32x4.eq(v128.load(x + at), m), found);
      v128.store(dx + at, f32x4.add(v128.load(dx + at), v128.and(g, hit)));
      found = v128.or(found, hit);
    }
  }
}

/**
 * im2col's adjoint: each output position's k x k window of column gradients, cols [n * oh * ow, k * k * c]
 * as a GEMM writes them, is added back onto dx [n, h, w, c] (zeroed first), positions in row-major order,
 * then taps. A row of taps wholly inside dx is one run of k * c floats in both (four at a time, then one by
 * one); at the edges each tap's c floats are. Every element of dx receives its additions in the same order
 * either way: the same sums.
 */
export function col2im(cols: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, k: i32, stride: i32, top: i32, left: i32, oh: i32, ow: i32): void {
  memory.fill(dx, 0, <usize>(n * h * w * c) << 2);
  const posBytes = <usize>(k * k * c) << 2;
  const tapBytes = <usize>c << 2;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const col = cols + <usize>((b * oh + y) * ow + x) * posBytes;
        const x0 = x * stride - left;
        const inside = x0 >= 0 && x0 + k <= w;
        for (let ky = 0; ky < k; ky++) {
          const iy = y * stride - top + ky;
          if (iy < 0 || iy >= h) continue;
          const row = dx + (<usize>((b * h + iy) * w) * tapBytes);
          const s = col + <usize>(ky * k) * tapBytes;
          if (inside) {
            addRun(row + <usize>x0 * tapBytes, s, k * c);
            continue;
          }
          for (let kx = 0; kx < k; kx++) {
            const ix = x0 + kx;
            if (ix >= 0 && ix < w) addRun(row + <usize>ix * tapBytes, s + <usize>kx * tapBytes, c);
          }
        }
      }
    }
  }
}

/** d[i] += s[i] for `count` floats, four at a time then one by one. */
@inline
function addRun(d: usize, s: usize, count: i32): void {
  const end = <usize>count << 2;
  const end4 = <usize>(count & ~3) << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
  for (; o < end; o += 4) store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
}

/**
 * C [m, n] = A [m, k] x B [k, n], all row-major. B is read in place (no packed copy,
 * unlike XNNPACK's matMul, which keeps one per right operand). Each output adds its k products in order,
 * each a multiply then an add, as XNNPACK's wasm SIMD kernels do, so the results are the same bits.
 * Blocks of 4 rows by 8 columns; the rows and the columns left over go one row, 4 columns or one column at a time.
 */
export function matmul(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32): void {
  const ra = <usize>k << 2; // a row of A
  const rb = <usize>n << 2; // a row of B, and of C
  // A large B goes in passes of KC of its rows, each adding to C what the pass before left there (the same
  // order of additions, so the same bits): each pass reads a slice of B that stays in cache while every
  // block of rows of A uses it, where reading a whole B column panel by panel, its rows far apart, waited on memory.
  const kc = <i32>(<usize>k * rb > LARGE_B ? KC : k);
  for (let k0 = 0; k0 < k; k0 += kc) {
    pass(a + (<usize>k0 << 2), b + <usize>k0 * rb, c, m, min(kc, k - k0), n, ra, rb, k0 > 0);
  }
}

/**
 * C [m, n] = A [m, k] x B^T, with B stored as [n, k] (a filter's Winograd planes read transposed): B's
 * columns of C, 8 at a time, are first packed at `pack` (k * 8 floats, this call's own) as the [k, 8]
 * panel matmul would read, then run as there. Each output adds the same k products in the same order as
 * matmul on B^T stored, so the same bits.
 */
export function matmulBT(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, pack: usize): void {
  const ra = <usize>k << 2; // a row of A, and of B
  const rc = <usize>n << 2;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    packPanel(b + <usize>j * ra, pack, k, 8);
    columns(a, pack, c + (<usize>j << 2), m, k, ra, 32, rc, 8, false);
  }
  if (j + 4 <= n) {
    packPanel(b + <usize>j * ra, pack, k, 4);
    columns(a, pack, c + (<usize>j << 2), m, k, ra, 16, rc, 4, false);
    j += 4;
  }
  // The last 1..3 columns read B's rows in place (a column of B^T is a row of B).
  for (; j < n; j++) column(a, b + <usize>j * ra, c + (<usize>j << 2), m, k, ra, 4, rc, false);
}

/** dst [k, cols] = the `cols` (8 or 4) rows of src [cols, k] transposed: 4x4 blocks in registers, the last k % 4 one by one. */
@inline
function packPanel(src: usize, dst: usize, k: i32, cols: i32): void {
  const rs = <usize>k << 2;
  const rd = <usize>cols << 2;
  const k4 = <usize>(k & ~3) << 2;
  for (let g = 0; g < cols; g += 4) {
    const s = src + <usize>g * rs;
    const d = dst + (<usize>g << 2);
    for (let q: usize = 0; q < k4; q += 16) {
      const v0 = v128.load(s + q), v1 = v128.load(s + rs + q), v2 = v128.load(s + 2 * rs + q), v3 = v128.load(s + 3 * rs + q);
      const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
      const o = d + (q >> 2) * rd;
      v128.store(o, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(o + rd, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(o + 2 * rd, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(o + 3 * rd, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
    }
    for (let q = k4; q < rs; q += 4) {
      for (let i = 0; i < 4; i++) store<f32>(d + (q >> 2) * rd + (<usize>i << 2), load<f32>(s + <usize>i * rs + q));
    }
  }
}

const LARGE_B: usize = 256 << 10;
const KC = 128;

/** C's columns from `depth` rows of A's columns and B's rows at a and b; `more`: add to C rather than overwrite it. */
@inline
function pass(a: usize, b: usize, c: usize, m: i32, depth: i32, n: i32, ra: usize, rb: usize, more: bool): void {
  let j = 0;
  for (; j + 8 <= n; j += 8) columns(a, b + (<usize>j << 2), c + (<usize>j << 2), m, depth, ra, rb, rb, 8, more);
  if (j + 4 <= n) {
    columns(a, b + (<usize>j << 2), c + (<usize>j << 2), m, depth, ra, rb, rb, 4, more);
    j += 4;
  }
  // The last 1..3 columns one output at a time, in the same order.
  for (; j < n; j++) column(a, b + (<usize>j << 2), c + (<usize>j << 2), m, depth, ra, rb, rb, more);
}

/**
 * One column of C from B's column at `b` (its rows `rb` bytes apart; C's `rc`): four rows at a time (four
 * sums in flight, not one chain of additions), then one by one.
 */
@inline
function column(a: usize, b: usize, c: usize, m: i32, depth: i32, ra: usize, rb: usize, rc: usize, more: bool): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const c0 = c + <usize>i * rc;
    let s0: f32 = more ? load<f32>(c0) : 0;
    let s1: f32 = more ? load<f32>(c0 + rc) : 0;
    let s2: f32 = more ? load<f32>(c0 + 2 * rc) : 0;
    let s3: f32 = more ? load<f32>(c0 + 3 * rc) : 0;
    let ai = a + <usize>i * ra;
    let bq = b;
    for (let q = 0; q < depth; q++, ai += 4, bq += rb) {
      const x = load<f32>(bq);
      s0 += load<f32>(ai) * x;
      s1 += load<f32>(ai + ra) * x;
      s2 += load<f32>(ai + 2 * ra) * x;
      s3 += load<f32>(ai + 3 * ra) * x;
    }
    store<f32>(c0, s0);
    store<f32>(c0 + rc, s1);
    store<f32>(c0 + 2 * rc, s2);
    store<f32>(c0 + 3 * rc, s3);
  }
  for (; i < m; i++) {
    const at = c + <usize>i * rc;
    let sum: f32 = more ? load<f32>(at) : 0;
    let ai = a + <usize>i * ra;
    let bq = b;
    for (let q = 0; q < depth; q++, ai += 4, bq += rb) sum += load<f32>(ai) * load<f32>(bq);
    store<f32>(at, sum);
  }
}

/** All m rows of C's `cols` (8 or 4, a constant where inlined) columns from B's columns at `b` (rows of B `rb` bytes apart, of C `rc`). */
@inline
function columns(a: usize, b: usize, c: usize, m: i32, k: i32, ra: usize, rb: usize, rc: usize, cols: i32, more: bool): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) block(a + <usize>i * ra, b, c + <usize>i * rc, k, ra, rb, rc, 4, cols, more);
  for (; i < m; i++) block(a + <usize>i * ra, b, c + <usize>i * rc, k, ra, rb, rc, 1, cols, more);
}

/** `rows` (4 or 1) rows of C by `cols` (8 or 4) columns, from A's rows at `a` and B's columns at `b` (constants where inlined). */
@inline
function block(a: usize, b: usize, c: usize, k: i32, ra: usize, rb: usize, rc: usize, rows: i32, cols: i32, more: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  if (more) {
    c00 = v128.load(c);
    if (cols == 8) c01 = v128.load(c, 16);
    if (rows == 4) {
      c10 = v128.load(c + rc);
      c20 = v128.load(c + 2 * rc);
      c30 = v128.load(c + 3 * rc);
      if (cols == 8) {
        c11 = v128.load(c + rc, 16);
        c21 = v128.load(c + 2 * rc, 16);
        c31 = v128.load(c + 3 * rc, 16);
      }
    }
  }
  // A loop tested at its end: as a for loop, tested at its top, V8 (Node 20) moved 7 of the 8 sums between
  // registers at every step, and this loop is bound by how many instructions it issues (~10% slower).
  const end = a + (<usize>k << 2);
  if (a < end) do {
    const b0 = v128.load(b);
    const b1 = cols == 8 ? v128.load(b, 16) : b0;
    let s = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(s, b0));
    if (cols == 8) c01 = f32x4.add(c01, f32x4.mul(s, b1));
    if (rows == 4) {
      s = v128.load32_splat(a + ra);
      c10 = f32x4.add(c10, f32x4.mul(s, b0));
      if (cols == 8) c11 = f32x4.add(c11, f32x4.mul(s, b1));
      s = v128.load32_splat(a + 2 * ra);
      c20 = f32x4.add(c20, f32x4.mul(s, b0));
      if (cols == 8) c21 = f32x4.add(c21, f32x4.mul(s, b1));
      s = v128.load32_splat(a + 3 * ra);
      c30 = f32x4.add(c30, f32x4.mul(s, b0));
      if (cols == 8) c31 = f32x4.add(c31, f32x4.mul(s, b1));
    }
    a += 4;
    b += rb;
  } while (a < end);
  v128.store(c, c00);
  if (cols == 8) v128.store(c, c01, 16);
  if (rows == 4) {
    v128.store(c + rc, c10);
    v128.store(c + 2 * rc, c20);
    v128.store(c + 3 * rc, c30);
    if (cols == 8) {
      v128.store(c + rc, c11, 16);
      v128.store(c + 2 * rc, c21, 16);
      v128.store(c + 3 * rc, c31, 16);
    }
  }
}
