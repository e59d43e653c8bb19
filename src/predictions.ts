export interface Prediction {
  readonly index: number;
  readonly label: string | undefined;
  readonly logit: number;
  readonly probability: number;
}

/** Softmax over logits, computed stably in float64. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** The k most likely classes, best first. */
export function topK(logits: ArrayLike<number>, k: number, labels?: readonly string[]): Prediction[] {
  const p = softmax(logits);
  // Insertion into the best k so far (k is small): the order of a full stable sort, ties by index.
  const n = Math.max(0, Math.floor(k));
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (best.length === n) {
      if (n === 0 || !(v > logits[best[n - 1]!]!)) continue;
      best.pop();
    }
    let at = best.length;
    while (at > 0 && v > logits[best[at - 1]!]!) at--;
    best.splice(at, 0, i);
  }
  return best.map((index) => ({ index, label: labels?.[index], logit: logits[index]!, probability: p[index]! }));
}
