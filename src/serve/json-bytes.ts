/** A piece of a JSON body: JSON text, or bytes that appear in it as a base64 string (quotes included). */
export type JsonPart = string | Uint8Array;

const ALPHABET = new TextEncoder().encode('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const QUOTE = 0x22;
const PAD = 0x3d;

const base64Length = (n: number) => 4 * Math.ceil(n / 3);

/** Standard base64 (RFC 4648, padded) of `src`, written into `out` at `at`; returns the end. */
export function base64Into(src: Uint8Array, out: Uint8Array, at: number): number {
  const whole = src.length - (src.length % 3);
  let o = at;
  for (let i = 0; i < whole; i += 3) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
    out[o++] = ALPHABET[v >> 18]!;
    out[o++] = ALPHABET[(v >> 12) & 63]!;
    out[o++] = ALPHABET[(v >> 6) & 63]!;
    out[o++] = ALPHABET[v & 63]!;
  }
  if (whole < src.length) {
    const two = whole + 1 < src.length;
    const v = (src[whole]! << 16) | (two ? src[whole + 1]! << 8 : 0);
    out[o++] = ALPHABET[v >> 18]!;
    out[o++] = ALPHABET[(v >> 12) & 63]!;
    out[o++] = two ? ALPHABET[(v >> 6) & 63]! : PAD;
    out[o++] = PAD;
  }
  return o;
}

/**
 * The UTF-8 bytes of a JSON body made of parts, in one buffer: the maps' base64 goes straight into it,
 * instead of through a base64 string, the JSON string and its UTF-8 copy (three fresh copies of a few
 * hundred kilobytes per request, which cost the server's thread more than the rest of a request).
 */
export function jsonBytes(parts: readonly JsonPart[]): Uint8Array {
  const size = parts.reduce((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : base64Length(p.length) + 2), 0);
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'string') {
      at += out.write(p, at);
    } else {
      out[at++] = QUOTE;
      at = base64Into(p, out, at);
      out[at++] = QUOTE;
    }
  }
  return out;
}
