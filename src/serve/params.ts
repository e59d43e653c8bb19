import { CAM_METHODS, type CamMethodName } from '../methods/index.js';
import { HttpError } from './errors.js';

/** The parameters of POST /explain, validated. */
export interface ExplainParams {
  /** Target layers; undefined: the model's default. */
  readonly layers: readonly string[] | undefined;
  /** A class index or name, resolved against the model's labels; undefined: the top-1 class. */
  readonly target: string | undefined;
  readonly method: CamMethodName;
  readonly guided: boolean;
  readonly format: 'png' | 'json';
  /** How format=json encodes each map: a PNG heatmap, or the float32 values (little-endian). */
  readonly maps: 'png' | 'f32';
  /** format=png: the figure (overlays, and Guided Grad-CAM with guided=1) instead of the overlay. */
  readonly figure: boolean;
  /** format=json: also the overlay of the combined map on the image, as a base64 PNG. */
  readonly overlay: boolean;
}

const NAMES = ['layers', 'target', 'method', 'guided', 'format', 'maps', 'figure', 'overlay'];
const TRUE = new Set(['1', 'true', 'on', 'yes', '']);
const FALSE = new Set(['0', 'false', 'off', 'no']);

const bad = (message: string) => new HttpError(400, 'INVALID_INPUT', message);

function oneOf<T extends string>(p: URLSearchParams, name: string, values: readonly T[], fallback: T): T {
  const v = p.get(name);
  if (v === null) return fallback;
  if (!values.includes(v as T)) throw bad(`${name} must be one of ${values.join(', ')}, got '${v}'`);
  return v as T;
}

function flag(p: URLSearchParams, name: string): boolean {
  const v = p.get(name)?.toLowerCase();
  if (v === undefined) return false;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw bad(`${name} must be 1/0 (or true/false), got '${v}'`);
}

/** Parameters from the query string and form fields; an unknown or repeated name is refused, so typos do not pass silently. */
export function parseExplainParams(p: URLSearchParams): ExplainParams {
  for (const name of new Set(p.keys())) {
    if (!NAMES.includes(name)) throw bad(`unknown parameter '${name}'; known: ${NAMES.join(', ')}`);
    if (p.getAll(name).length > 1) throw bad(`parameter '${name}' is given more than once`);
  }
  const layers = p.get('layers')?.split(',').map((s) => s.trim()).filter(Boolean);
  if (layers?.length === 0) throw bad('layers is empty');
  const target = p.get('target')?.trim();
  if (target === '') throw bad('target is empty');
  const format = oneOf(p, 'format', ['png', 'json'] as const, 'png');
  const figure = flag(p, 'figure');
  const overlay = flag(p, 'overlay');
  if (figure && format !== 'png') throw bad('figure=1 needs format=png');
  if (overlay && format !== 'json') throw bad('overlay=1 needs format=json (format=png is the overlay)');
  return {
    layers,
    target,
    method: oneOf(p, 'method', Object.keys(CAM_METHODS) as CamMethodName[], 'gradcam'),
    guided: flag(p, 'guided'),
    format,
    maps: oneOf(p, 'maps', ['png', 'f32'] as const, 'png'),
    figure,
    overlay,
  };
}
