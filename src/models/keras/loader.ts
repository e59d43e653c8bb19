import { GradcamError, InvalidInputError, WeightsError } from '../../errors.js';
import { readBytes } from '../../runtime/io.js';
import { resolveUnderBase } from '../../runtime/resolve.js';

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

interface WeightsGroup {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: string; quantization?: unknown }[];
}

/**
 * Reads a TF.js layers model (model.json + weight shards) from a path or URL, without tfjs-layers:
 * the engine runs the graph itself so that it can compute gradient-only backward passes.
 */
export async function loadKerasArtifacts(modelJson: string | URL): Promise<KerasArtifacts> {
  const text = new TextDecoder().decode(await readBytes(modelJson, 'model.json'));
  let json: { modelTopology?: Record<string, unknown>; weightsManifest?: WeightsGroup[] };
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError(`model.json is not valid JSON: ${(cause as Error).message}`);
  }
  const topology = json.modelTopology;
  const modelConfig = (topology?.model_config ?? topology) as { class_name?: string; config?: unknown } | undefined;
  if (!modelConfig || !json.weightsManifest) throw new InvalidInputError('model.json is not a TF.js layers model (no modelTopology / weightsManifest)');
  const layers = parseLayers(modelConfig);

  const weights = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const group of json.weightsManifest) {
    const shards = await Promise.all(group.paths.map((p) => readBytes(resolveUnderBase(modelJson, p, 'weights shard'), `weights shard ${p}`)));
    const bytes = new Uint8Array(shards.reduce((n, s) => n + s.byteLength, 0));
    let at = 0;
    for (const s of shards) {
      bytes.set(s, at);
      at += s.byteLength;
    }
    for (const [name, w] of decodeWeights(group.weights, bytes)) weights.set(name, w);
  }

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
  const t = topology as { model_config?: unknown } | undefined;
  const layers = parseLayers((t?.model_config ?? t) as { class_name?: string; config?: unknown });
  return { layers, weights: decodeWeights(specs, data), labels };
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

function parseLayers(modelConfig: { class_name?: string; config?: unknown }): KerasLayerSpec[] {
  const cfg = modelConfig.config as { layers?: unknown[] } | unknown[] | undefined;
  const raw = (Array.isArray(cfg) ? cfg : cfg?.layers) as { class_name: string; name?: string; config: Record<string, unknown>; inbound_nodes?: unknown[] }[] | undefined;
  if (!Array.isArray(raw) || raw.length === 0) throw new InvalidInputError('model.json has no layers');
  const sequential = modelConfig.class_name === 'Sequential';
  return raw.map((l, i) => {
    const name = (l.name ?? l.config.name) as string;
    let inbound: string[] = [];
    if (sequential) {
      inbound = i === 0 ? [] : [((raw[i - 1]!.name ?? raw[i - 1]!.config.name) as string)];
    } else {
      const nodes = (l.inbound_nodes ?? []) as unknown[][];
      if (nodes.length > 1) throw new GradcamError('UNSUPPORTED', `layer ${name} is shared (called ${nodes.length} times); shared layers are not supported`);
      inbound = (nodes[0] ?? []).map((n) => (n as unknown[])[0] as string);
    }
    return { name, className: l.class_name, config: l.config, inbound };
  });
}
