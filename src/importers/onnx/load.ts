/**
 * loadOnnx: an ONNX model from a path, a URL or bytes, with the external-data files its initializers name,
 * read from beside the model (never outside its folder) unless they are given.
 */
import { FileNotFoundError, WeightsError } from '../../errors.js';
import { besideModel } from '../../io/beside.js';
import { readBytes, type BytesSource } from '../../runtime/io.js';
import { parseOnnx, toOnnxModel } from './decode.js';
import type { OnnxModel } from './ir.js';

export interface LoadOnnxOptions {
  /** External-data files by location, instead of reading them beside the model (required for bytes). */
  readonly externalData?: ReadonlyMap<string, Uint8Array>;
}

/** The name errors use for a model source: its path or URL, or 'bytes'. */
export const sourceName = (source: BytesSource): string => (typeof source === 'string' ? source : source instanceof URL ? source.href : 'bytes');

export async function loadOnnx(source: BytesSource, options: LoadOnnxOptions = {}): Promise<OnnxModel> {
  const name = sourceName(source);
  const parsed = parseOnnx(await readBytes(source, 'ONNX model'), name);
  const externalData = new Map(options.externalData ?? []);
  for (const location of parsed.externalLocations) {
    if (externalData.has(location)) continue;
    if (typeof source !== 'string' && !(source instanceof URL)) {
      throw new WeightsError(`${name}: the model's weights are in the external-data file '${location}'; pass it in externalData`);
    }
    const file = besideModel(source, location, `${name}: external-data file`);
    try {
      externalData.set(location, await readBytes(file, 'ONNX external-data file'));
    } catch (cause) {
      if (cause instanceof FileNotFoundError) throw new WeightsError(`${name}: the external-data file '${location}' is missing (${cause.path})`);
      throw cause;
    }
  }
  return toOnnxModel(parsed, externalData);
}
