/**
 * A small seedable generator of standard normal numbers: xorshift128+ style state from splitmix32, and
 * Box-Muller. Used for ROAD's imputation noise; the same seed gives the same numbers in every runtime.
 */
export interface NormalGenerator {
  /** The next standard normal sample. */
  next(): number;
}

export function normalGenerator(seed: number): NormalGenerator {
  let s = seed >>> 0;
  // splitmix32: a 32-bit state stepped by the golden ratio and mixed; full period, good equidistribution.
  const uniform = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    z = (z ^ (z >>> 15)) >>> 0;
    return (z + 0.5) / 4294967296; // in (0, 1): never 0, so log() below is finite
  };
  let spare: number | undefined;
  return {
    next() {
      if (spare !== undefined) {
        const v = spare;
        spare = undefined;
        return v;
      }
      const r = Math.sqrt(-2 * Math.log(uniform()));
      const t = 2 * Math.PI * uniform();
      spare = r * Math.sin(t);
      return r * Math.cos(t);
    },
  };
}
