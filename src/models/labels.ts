/**
 * Class names for a model: given (API `labels`, CLI `--labels FILE`), from `<model name>.labels.json` beside
 * the model (a JSON array of strings), or ImageNet's names when the model has 1000 classes.
 */
import { FileNotFoundError, InvalidInputError } from '../errors.js';
import { besideModel, modelUrl } from '../io/beside.js';
import { readBytes, type BytesSource } from '../runtime/io.js';
import { IMAGENET_CLASSES } from './imagenet-classes.js';

/** Labels from JSON text: a non-empty array of strings; `source` names the file in errors. */
export function parseLabels(text: string, source: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError(`labels file ${source} is not valid JSON: ${(cause as Error).message}`);
  }
  if (!Array.isArray(json) || json.length === 0) throw new InvalidInputError(`labels file ${source} must hold a non-empty JSON array of strings`);
  const bad = json.findIndex((l) => typeof l !== 'string');
  if (bad >= 0) throw new InvalidInputError(`labels file ${source}: entry ${bad} is ${JSON.stringify(json[bad])}, not a string`);
  return json as string[];
}

/** A labels file (path, URL or bytes). */
export async function readLabels(source: BytesSource): Promise<string[]> {
  const name = typeof source === 'string' ? source : source instanceof URL ? source.href : 'bytes';
  return parseLabels(new TextDecoder().decode(await readBytes(source, 'labels file')), name);
}

/** `<model name>.labels.json` in the model's folder: 'dir/resnet18.onnx' -> 'dir/resnet18.labels.json'. */
export function labelsFileBeside(model: string | URL): string | URL {
  const url = modelUrl(model);
  const path = url ? decodeURIComponentSafe(url.pathname) : (model as string);
  const stem = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1).replace(/\.[^.]*$/, '');
  return besideModel(model, `${stem || 'model'}.labels.json`, 'labels file');
}

/** The labels beside a model, or undefined when there is no such file. */
export async function labelsBeside(model: string | URL): Promise<string[] | undefined> {
  try {
    return await readLabels(labelsFileBeside(model));
  } catch (e) {
    if (e instanceof FileNotFoundError) return undefined;
    throw e;
  }
}

/**
 * The labels a model with `numClasses` classes gets: the ones given (option or file), else ImageNet's for 1000
 * classes. Labels whose count differs from the model's classes are an error.
 */
export function chooseLabels(labels: readonly string[] | undefined, numClasses: number): readonly string[] | undefined {
  if (labels !== undefined && labels.length !== numClasses) {
    throw new InvalidInputError(`${labels.length} labels were given for a model with ${numClasses} classes`);
  }
  return labels ?? (numClasses === 1000 ? IMAGENET_CLASSES : undefined);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
