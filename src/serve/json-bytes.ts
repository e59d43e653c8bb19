import type { Kernels } from '../kernels/types.js';

/** A piece of a JSON body: JSON text, or bytes that appear in it as a base64 string (quotes included). */
export type JsonPart = string | Uint8Array;

const QUOTE = 0x22;

const base64Length = (n: number) => 4 * Math.ceil(n / 3);

/**
 * The UTF-8 bytes of a JSON body made of parts, in one buffer: the maps' base64 goes straight into it,
 * instead of through a base64 string, the JSON string and its UTF-8 copy (three fresh copies of a few
 * hundred kilobytes per request, which cost the server's thread more than the rest of a request).
 */
export function jsonBytes(parts: readonly JsonPart[], kernels: Pick<Kernels, 'base64Into'>): Uint8Array {
  const size = parts.reduce((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : base64Length(p.length) + 2), 0);
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'string') {
      at += out.write(p, at);
    } else {
      out[at++] = QUOTE;
      at = kernels.base64Into(p, out, at);
      out[at++] = QUOTE;
    }
  }
  return out;
}
