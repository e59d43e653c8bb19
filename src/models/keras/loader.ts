import { GradcamError, InvalidInputError, WeightsError } from '../../errors.js';
import { readBytes } from '../../runtime/io.js';
import { resolveUnderBase } from '../../runtime/resolve.js';
import { validateKerasArtifacts } from './validate.js';

/** One layer of a Keras functional/sequential topology as TF.js's converter writes it. */
export interface KerasLayerSpec {
  readonly name: string;
  readonly className: string;
  readonly config: Record<string, unknown>;
  /** Names of the layers whose (first) output feeds this one. */
  readonly inbound: readonly string[];
}

export interface KerasArtifacts {
  readonly layers: readonly KerasLayerSpec[];
  readonly weights: ReadonlyMap<string, { readonly data: Float32Array; readonly shape: readonly number[] }>;
  /** Class names from a metadata.json next to model.json, when it has `labels`. */
  readonly labels: readonly string[] | undefined;
}

interface WeightSpec {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: string;
  readonly quantization?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const malformed = (message: string) => new WeightsError(`model.json is malformed: ${message}`);

/** The weights manifest, checked: groups with a list of shard paths and well-formed weight specs. */
function parseManifest(manifest: unknown): { paths: string[]; weights: WeightSpec[] }[] {
  if (!Array.isArray(manifest)) throw malformed('weightsManifest is not a list of weight groups');
  return manifest.map((group, g) => {
    if (!isObject(group)) throw malformed(`weightsManifest[${g}] is not an object`);
    const { paths, weights } = group;
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && p !== '')) {
      throw malformed(`weightsManifest[${g}].paths is not a non-empty list of file names`);
    }
    if (!Array.isArray(weights)) throw malformed(`weightsManifest[${g}].weights is not a list`);
    return { paths: paths as string[], weights: weights.map((w, i) => checkWeightSpec(w, `weightsManifest[${g}].weights[${i}]`)) };
  });
}

function checkWeightSpec(w: unknown, where: string): WeightSpec {
  if (!isObject(w) || typeof w.name !== 'string' || w.name === '') throw malformed(`${where} has no name`);
  if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new WeightsError(`shape ${JSON.stringify(w.shape)} is not a list of non-negative integers`, w.name);
  }
  if (typeof w.dtype !== 'string') throw new WeightsError('no dtype', w.name);
  return w as unknown as WeightSpec;
}

/**
 * Reads a TF.js layers model (model.json + weight shards) from a path or URL, without tfjs-layers:
 * the engine runs the graph itself so that it can compute gradient-only backward passes.
 */
export async function loadKerasArtifacts(modelJson: string | URL): Promise<KerasArtifacts> {
  const text = new TextDecoder().decode(await readBytes(modelJson, 'model.json'));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError(`model.json is not valid JSON: ${(cause as Error).message}`);
  }
  if (!isObject(json) || !isObject(json.modelTopology) || json.weightsManifest === undefined) {
    throw new InvalidInputError('model.json is not a TF.js layers model (no modelTopology / weightsManifest)');
  }
  const layers = parseLayers(json.modelTopology);
  const manifest = parseManifest(json.weightsManifest);

  const weights = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const group of manifest) {
    const shards = await Promise.all(group.paths.map((p) => readBytes(resolveUnderBase(modelJson, p, 'weights shard'), `weights shard ${p}`)));
    const bytes = new Uint8Array(shards.reduce((n, s) => n + s.byteLength, 0));
    let at = 0;
    for (const s of shards) {
      bytes.set(s, at);
      at += s.byteLength;
    }
    for (const [name, w] of decodeWeights(group.weights, bytes)) weights.set(name, w);
  }
  validateKerasArtifacts(layers, weights);

  let labels: string[] | undefined;
  try {
    const meta = JSON.parse(new TextDecoder().decode(await readBytes(resolveUnderBase(modelJson, 'metadata.json', 'metadata'), 'metadata.json')));
    if (Array.isArray(meta?.labels) && meta.labels.every((l: unknown) => typeof l === 'string')) labels = meta.labels;
  } catch {
    // metadata.json is optional.
  }
  return { layers, weights, labels };
}

/** The parts of a tfjs-layers LayersModel that the loader needs (duck-typed: no tfjs-layers import). */
export interface LayersModelLike {
  save(handler: { save(artifacts: { modelTopology?: unknown; weightSpecs?: { name: string; shape: number[]; dtype: string }[]; weightData?: ArrayBuffer | ArrayBuffer[] }): Promise<unknown> }): Promise<unknown>;
}

export const isLayersModelLike = (m: unknown): m is LayersModelLike => typeof m === 'object' && m !== null && typeof (m as LayersModelLike).save === 'function';

/** Artifacts of an in-memory tfjs-layers model, taken through its own save() into memory. */
export async function artifactsFromLayersModel(model: LayersModelLike, labels?: readonly string[]): Promise<KerasArtifacts> {
  let topology: unknown;
  let specs: { name: string; shape: number[]; dtype: string }[] = [];
  let data = new Uint8Array(0);
  await model.save({
    async save(artifacts) {
      topology = artifacts.modelTopology;
      specs = artifacts.weightSpecs ?? [];
      const buffers = Array.isArray(artifacts.weightData) ? artifacts.weightData : artifacts.weightData ? [artifacts.weightData] : [];
      data = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
      let at = 0;
      for (const b of buffers) {
        data.set(new Uint8Array(b), at);
        at += b.byteLength;
      }
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  if (!isObject(topology)) throw malformed('the model has no topology');
  const layers = parseLayers(topology);
  const weights = decodeWeights(specs.map((w, i) => checkWeightSpec(w, `weight ${i}`)), data);
  validateKerasArtifacts(layers, weights);
  return { layers, weights, labels };
}

function decodeWeights(specs: readonly { name: string; shape: number[]; dtype: string; quantization?: unknown }[], bytes: Uint8Array): Map<string, { data: Float32Array; shape: number[] }> {
  const weights = new Map<string, { data: Float32Array; shape: number[] }>();
  let offset = 0;
  for (const w of specs) {
    if (w.dtype !== 'float32' || w.quantization) throw new GradcamError('UNSUPPORTED', `weight ${w.name}: only unquantized float32 weights are supported (got ${w.dtype}${w.quantization ? ', quantized' : ''})`);
    const count = w.shape.reduce((a, b) => a * b, 1);
    if (offset + count * 4 > bytes.byteLength) throw new WeightsError(`weight data is shorter than the manifest says (${bytes.byteLength} bytes)`, w.name);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + count * 4));
    for (let i = 0; i < count; i++) if (!Number.isFinite(data[i])) throw new WeightsError(`non-finite value at flat index ${i}`, w.name);
    weights.set(w.name, { data, shape: w.shape });
    offset += count * 4;
  }
  return weights;
}

/** The layer list of a functional or sequential topology, with names unique and inbound layers defined before use. */
function parseLayers(topology: Record<string, unknown>): KerasLayerSpec[] {
  const modelConfig = isObject(topology.model_config) ? topology.model_config : topology;
  const cfg = modelConfig.config;
  const raw = Array.isArray(cfg) ? cfg : isObject(cfg) ? cfg.layers : undefined;
  if (!Array.isArray(raw) || raw.length === 0) throw new InvalidInputError('model.json has no layers');
  const sequential = modelConfig.class_name === 'Sequential';
  const seen = new Set<string>();
  let previous: string | undefined;
  return raw.map((l: unknown, i) => {
    if (!isObject(l) || !isObject(l.config)) throw malformed(`layer ${i} ${isObject(l) && typeof l.name === 'string' ? `'${l.name}' ` : ''}has no config object`);
    const name = l.name ?? l.config.name;
    if (typeof name !== 'string' || name === '') throw malformed(`layer ${i} has no name`);
    if (typeof l.class_name !== 'string') throw malformed(`layer '${name}' has no class_name`);
    if (seen.has(name)) throw malformed(`two layers are named '${name}'`);
    let inbound: string[] = [];
    if (sequential) {
      inbound = previous === undefined ? [] : [previous];
    } else {
      const nodes = l.inbound_nodes ?? [];
      if (!Array.isArray(nodes)) throw malformed(`layer '${name}': inbound_nodes is not a list`);
      if (nodes.length > 1) throw new GradcamError('UNSUPPORTED', `layer ${name} is shared (called ${nodes.length} times); shared layers are not supported`);
      const first: unknown = nodes[0] ?? [];
      if (!Array.isArray(first) || !first.every((n) => Array.isArray(n) && typeof n[0] === 'string')) {
        throw new GradcamError('UNSUPPORTED', `layer ${name}: this inbound_nodes format is not supported (expected [[name, 0, 0, {}], ...])`);
      }
      inbound = first.map((n) => (n as string[])[0]!);
      for (const from of inbound) if (!seen.has(from)) throw malformed(`layer '${name}' takes its input from '${from}', which is not a layer defined before it`);
    }
    seen.add(name);
    previous = name;
    return { name, className: l.class_name, config: l.config, inbound };
  });
}
