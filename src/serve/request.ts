import type { IncomingMessage } from 'node:http';
import { readBody, type BodyLimits } from './body.js';
import { HttpError } from './errors.js';

/** An explanation request: the image's bytes and its parameters (query string, then form fields). */
export interface ExplainRequest {
  readonly image: Uint8Array;
  readonly params: URLSearchParams;
}

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/jpg']);
const ACCEPTED = 'image/png, image/jpeg, or multipart/form-data with the field image';

const mediaType = (header: string | undefined) => header?.split(';')[0]!.trim().toLowerCase() ?? '';

/**
 * Reads a raw image body (image/png, image/jpeg) or a multipart form whose field `image` is the
 * file; other form fields are parameters like those of the query string (a field wins over the
 * query). Multipart is parsed by Node's own fetch implementation (undici), so no parser of ours.
 */
export async function readExplainRequest(req: IncomingMessage, query: URLSearchParams, limits: BodyLimits): Promise<ExplainRequest> {
  const type = mediaType(req.headers['content-type']);
  if (IMAGE_TYPES.has(type)) return { image: await readBody(req, limits), params: query };
  if (type !== 'multipart/form-data') {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Type '${type || '(none)'}'; send ${ACCEPTED}`);
  }
  const body = await readBody(req, limits);
  let form: FormData;
  try {
    form = await new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': req.headers['content-type']! } }).formData();
  } catch (cause) {
    throw new HttpError(400, 'BAD_REQUEST', `malformed multipart/form-data body: ${(cause as Error).message}`);
  }
  const params = new URLSearchParams(query);
  const files: [string, Blob][] = [];
  form.forEach((value, name) => {
    if (typeof value === 'string') params.set(name, value);
    else files.push([name, value]);
  });
  const extra = files.find(([name]) => name !== 'image');
  if (extra) throw new HttpError(400, 'BAD_REQUEST', `the form field '${extra[0]}' is a file; only 'image' may be`);
  if (files.length > 1 || params.has('image')) throw new HttpError(400, 'BAD_REQUEST', "the form field 'image' must be one file");
  const image = files[0]?.[1];
  if (!image) throw new HttpError(400, 'BAD_REQUEST', "the form has no file field 'image'");
  // A part without a type arrives as text/plain (undici's default), so only another image type is refused here;
  // the bytes themselves must be a PNG or JPEG either way.
  const partType = mediaType(image.type);
  if (partType.startsWith('image/') && !IMAGE_TYPES.has(partType)) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `unsupported image type '${partType}'; send image/png or image/jpeg`);
  }
  return { image: new Uint8Array(await image.arrayBuffer()), params };
}
