// What the tools' parity checks share (tools/torchvision_zoo.mjs, tools/resnet34_onnx.mjs): .npy reading, a results
// table's numbers, and the tests' comparison metrics (test/helpers/metrics.js, plain JS so both can import it).
import { readFileSync } from 'node:fs';
import { decodeNpy } from '../dist/index.js';
import { maxAbs, maxAbsDiff, relL2 as relL2Strict } from '../test/helpers/metrics.js';

export { argmax, maxAbs, maxAbsDiff, meanAbsDiff, pearson } from '../test/helpers/metrics.js';

/** A .npy file's values and shape. */
export const readNpy = (path) => decodeNpy(new Uint8Array(readFileSync(path)));

/** relL2, except that an all-zero reference compares absolutely (max |a|): a raw map ReLU zeroed everywhere. */
export const relL2 = (a, ref) => (maxAbs(ref) === 0 ? maxAbsDiff(a, ref) : relL2Strict(a, ref));

/** A number for a results table. */
export const fmt = (v) => (v === undefined || Number.isNaN(v) ? '-' : v === 0 ? '0' : Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toFixed(4) : v.toExponential(1));
