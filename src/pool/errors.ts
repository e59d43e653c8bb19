import * as errors from '../errors.js';

/** An error as it crosses a thread: its class by name, its code and its own fields (structured-cloneable). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

type Plain = string | number | boolean | null | undefined;
const isPlain = (v: unknown): v is Plain => v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v);

/** The error classes of src/errors.ts by their export names (kept by bundlers, unlike class names). */
const CLASSES = new Map<string, { prototype: Error }>(
  Object.entries(errors).flatMap(([name, value]) =>
    typeof value === 'function' && value.prototype instanceof Error ? [[name, value as { prototype: Error }]] : [],
  ),
);

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(err)) {
    if (key === 'name') continue;
    if (isPlain(value) || (Array.isArray(value) && value.every(isPlain))) fields[key] = value;
  }
  return { name: err.name, message: err.message, stack: err.stack, fields };
}

/**
 * The error again, as an instance of its own class (LayerNotFoundError with its .layer and
 * .available): built without its constructor, whose arguments differ per class. A name this side
 * does not know becomes a GradcamError when it has a code, a plain Error otherwise.
 */
export function reviveError(s: SerializedError): Error {
  const known = CLASSES.get(s.name) ?? (typeof s.fields.code === 'string' ? errors.GradcamError : Error);
  const err = Object.create(known.prototype) as Error;
  Object.defineProperty(err, 'message', { value: s.message, writable: true, configurable: true });
  if (s.stack !== undefined) Object.defineProperty(err, 'stack', { value: s.stack, writable: true, configurable: true });
  return Object.assign(err, { name: s.name }, s.fields);
}
