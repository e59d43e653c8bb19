/**
 * A reusable Float32Array for data its caller consumes at once (each call may return the same memory,
 * overwritten). Held weakly: it lives through a burst of calls (a model loading) and the garbage collector
 * takes it after. Loading a model reads and transposes every filter; a fresh array for each cost more in
 * page faults than the work on it (ResNet34: ~0.7 s of a 3 s start, for ~170 MB touched once).
 */
export function createScratch(): (length: number) => Float32Array {
  let ref: WeakRef<Float32Array> | undefined;
  return (length) => {
    let buffer = ref?.deref();
    if (!buffer || buffer.length < length) ref = new WeakRef((buffer = new Float32Array(length)));
    return buffer.subarray(0, length);
  };
}
