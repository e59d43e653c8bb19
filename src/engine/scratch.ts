/**
 * A reusable Float32Array for data its caller consumes at once (each call may return the same memory,
 * overwritten). Held weakly: it lives through a burst of calls (a model loading) and the garbage collector
 * takes it after. Loading a model reads every filter once; a fresh array for each costs more in page faults
 * than the reading (ResNet34's 87 MB of conv weights: ~0.3 s of its start on a VM where new pages cost
 * ~3.5 ms per MB).
 */
export function createScratch(): (length: number) => Float32Array {
  let ref: WeakRef<Float32Array> | undefined;
  return (length) => {
    let buffer = ref?.deref();
    if (!buffer || buffer.length < length) ref = new WeakRef((buffer = new Float32Array(length)));
    return buffer.subarray(0, length);
  };
}
