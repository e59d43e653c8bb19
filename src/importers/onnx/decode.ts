/**
 * ONNX ModelProto bytes -> OnnxModel (ir.ts), checked: the graph is topologically sorted, every node input
 * exists, there is one 4-D image input and one output, and nothing needs control flow, subgraphs or another
 * operator domain. Malformed bytes of any kind end in a GradcamError (WeightsError or UNSUPPORTED).
 */
import { GradcamError, WeightsError } from '../../errors.js';
import type { OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './ir.js';
import { moduleLayers } from './layers.js';
import {
  AttributeType, decodeModelMessage, int64ToNumber,
  type AttributeMessage, type GraphMessage, type ModelMessage, type NodeMessage, type ValueInfoMessage,
} from './proto.js';
import { checkedDims, tensorFromProto, type TensorContext } from './tensor.js';

export interface DecodeOptions {
  /** File name or URL used in every error message ('bytes' when there is none). */
  readonly source: string;
  /** External-data files by their `location` (relative path as written in the model). */
  readonly externalData?: ReadonlyMap<string, Uint8Array>;
}

/** A ModelProto whose protobuf decoded; what `toOnnxModel` needs besides the external-data files. */
export interface ParsedOnnx {
  readonly source: string;
  readonly message: ModelMessage;
  /** The external-data locations its initializers name, each once. */
  readonly externalLocations: readonly string[];
}

const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan', 'SequenceMap']);

export function decodeOnnx(bytes: Uint8Array, options: DecodeOptions): OnnxModel {
  return toOnnxModel(parseOnnx(bytes, options.source), options.externalData);
}

/** Decodes the protobuf only (for a loader that must read external-data files before converting). */
export function parseOnnx(bytes: Uint8Array, source: string): ParsedOnnx {
  if (!(bytes instanceof Uint8Array)) throw new WeightsError(`${source}: an ONNX model must be given as bytes (Uint8Array)`);
  let message: ModelMessage;
  try {
    message = decodeModelMessage(bytes);
  } catch (cause) {
    throw notOnnx(source, cause instanceof Error ? cause.message : String(cause));
  }
  const graph = message.graph;
  if (!graph) throw notOnnx(source, 'no graph');
  if (graph.node.length === 0) throw notOnnx(source, 'the graph has no nodes');
  const locations = new Set<string>();
  for (const t of graph.initializer) {
    if (t.dataLocation !== 1) continue;
    const location = t.externalData.find((e) => e.key === 'location')?.value;
    if (location) locations.add(location);
  }
  return { source, message, externalLocations: [...locations] };
}

export function toOnnxModel(parsed: ParsedOnnx, externalData?: ReadonlyMap<string, Uint8Array>): OnnxModel {
  const { source, message } = parsed;
  const graph = message.graph!;
  const ctx: TensorContext = { source, externalData };
  const opset = aiOnnxOpset(message, source);
  if (graph.sparseInitializer.length > 0) throw new GradcamError('UNSUPPORTED', `${source}: sparse initializers are not supported`);

  const initializers = new Map<string, OnnxTensor>();
  for (const t of graph.initializer) {
    if (t.name === '') throw new WeightsError(`${source}: an initializer has no name`);
    if (initializers.has(t.name)) throw new WeightsError(`${source}: initializer '${t.name}' is defined twice`);
    initializers.set(t.name, tensorFromProto(t, t.name, ctx));
  }
  const input = imageInput(graph, initializers, source);
  const nodes = graph.node.map((n, i) => toNode(n, i, ctx));
  const defined = checkOrder(nodes, initializers, input.name, source);
  const output = graphOutput(graph, source);
  if (!defined.has(output.name)) throw new WeightsError(`${source}: graph output '${output.name}' is not computed by any node`);
  const producer = `${message.producerName} ${message.producerVersion}`.trim();
  return { source, opset, producer, nodes, initializers, input, output, layers: moduleLayers(nodes) };
}

function notOnnx(source: string, reason: string): WeightsError {
  return new WeightsError(`${source} is not an ONNX model (${reason})`);
}

function aiOnnxOpset(message: ModelMessage, source: string): number {
  const entry = message.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!entry) throw notOnnx(source, 'no ai.onnx opset_import');
  const version = int64ToNumber(entry.version);
  if (!Number.isSafeInteger(version) || version < 1) throw notOnnx(source, `invalid ai.onnx opset version ${version}`);
  return version;
}

function valueInfo(v: ValueInfoMessage, what: string, source: string): OnnxValueInfo {
  const tensor = v.type?.tensorType;
  if (!tensor) throw new GradcamError('UNSUPPORTED', `${source}: ${what} '${v.name}' is not a tensor`);
  const dims = tensor.shape?.dim;
  const shape = dims === undefined ? null : dims.map((d) => {
    if (Object.hasOwn(d, 'dimValue')) return checkedDims([d.dimValue], `${what} '${v.name}'`, source)[0]!;
    return Object.hasOwn(d, 'dimParam') && d.dimParam !== '' ? d.dimParam : null;
  });
  return { name: v.name, elemType: tensor.elemType, shape };
}

function imageInput(graph: GraphMessage, initializers: ReadonlyMap<string, OnnxTensor>, source: string): OnnxValueInfo {
  const inputs = graph.input.filter((v) => !initializers.has(v.name));
  if (inputs.length !== 1) {
    const names = inputs.map((v) => `'${v.name}'`).join(', ');
    throw new GradcamError('UNSUPPORTED', `${source}: the graph has ${inputs.length} inputs${names ? ` (${names})` : ''}; gradcam-wasm explains models with one image input`);
  }
  const input = valueInfo(inputs[0]!, 'graph input', source);
  if (input.name === '') throw new WeightsError(`${source}: the graph input has no name`);
  if (input.shape?.length !== 4) {
    const rank = input.shape === null ? 'unknown rank' : `${input.shape.length} dimensions`;
    throw new GradcamError('UNSUPPORTED', `${source}: graph input '${input.name}' has ${rank}; gradcam-wasm needs a 4-D image input [N, C, H, W]`);
  }
  if (input.elemType !== 1) throw new GradcamError('UNSUPPORTED', `${source}: graph input '${input.name}' has data type ${input.elemType}; gradcam-wasm needs float32`);
  return input;
}

function graphOutput(graph: GraphMessage, source: string): OnnxValueInfo {
  if (graph.output.length !== 1) {
    const names = graph.output.map((v) => `'${v.name}'`).join(', ');
    throw new GradcamError('UNSUPPORTED', `${source}: the graph has ${graph.output.length} outputs${names ? ` (${names})` : ''}; gradcam-wasm explains models with one output`);
  }
  return valueInfo(graph.output[0]!, 'graph output', source);
}

function toNode(n: NodeMessage, index: number, ctx: TensorContext): OnnxNode {
  const name = n.name || `${n.opType || 'node'}_${index}`;
  const where = `node '${name}' (${n.opType || 'no op type'})`;
  const domain = n.domain === 'ai.onnx' ? '' : n.domain;
  if (n.opType === '') throw new WeightsError(`${ctx.source}: node '${name}' has no op type`);
  if (domain !== '') throw new GradcamError('UNSUPPORTED', `${ctx.source}: ${where} is in the operator domain '${domain}'; gradcam-wasm supports ai.onnx only`);
  if (CONTROL_FLOW.has(n.opType)) throw new GradcamError('UNSUPPORTED', `${ctx.source}: ${where}: control flow is not supported`);
  const attributes = new Map<string, OnnxAttribute>();
  for (const a of n.attribute) {
    if (attributes.has(a.name)) throw new WeightsError(`${ctx.source}: ${where} has the attribute '${a.name}' twice`);
    attributes.set(a.name, attributeValue(a, `${where}, attribute '${a.name}'`, name, ctx));
  }
  return { name, opType: n.opType, domain, inputs: [...n.input], outputs: [...n.output], attributes };
}

// Old exporters leave `type` unset, and an unknown type reads as unset: then the field that is present tells it.
function attributeType(a: AttributeMessage): number {
  if (a.type !== AttributeType.UNDEFINED) return a.type;
  if (a.g.length > 0 || a.graphs.length > 0) return AttributeType.GRAPH;
  if (a.t) return AttributeType.TENSOR;
  if (a.ints.length > 0) return AttributeType.INTS;
  if (a.floats.length > 0) return AttributeType.FLOATS;
  if (a.strings.length > 0) return AttributeType.STRINGS;
  if (Object.hasOwn(a, 's')) return AttributeType.STRING;
  if (Object.hasOwn(a, 'i')) return AttributeType.INT;
  if (Object.hasOwn(a, 'f')) return AttributeType.FLOAT;
  return AttributeType.UNDEFINED;
}

const utf8 = new TextDecoder();

function attributeValue(a: AttributeMessage, where: string, nodeName: string, ctx: TensorContext): OnnxAttribute {
  if (a.refAttrName !== '') throw new GradcamError('UNSUPPORTED', `${ctx.source}: ${where} refers to a function attribute`);
  const type = attributeType(a);
  switch (type) {
    case AttributeType.FLOAT: return a.f;
    case AttributeType.INT: return int64ToNumber(a.i);
    case AttributeType.STRING: return utf8.decode(a.s);
    case AttributeType.TENSOR:
      if (!a.t) throw new WeightsError(`${ctx.source}: ${where} is a tensor attribute without a tensor`);
      return tensorFromProto(a.t, a.t.name || `${nodeName}.${a.name}`, ctx);
    case AttributeType.FLOATS: return [...a.floats];
    case AttributeType.INTS: return a.ints.map(int64ToNumber);
    case AttributeType.STRINGS: return a.strings.map((s) => utf8.decode(s));
    case AttributeType.GRAPH:
    case AttributeType.GRAPHS: throw new GradcamError('UNSUPPORTED', `${ctx.source}: ${where} holds a subgraph, which is not supported`);
    case AttributeType.TENSORS:
    case AttributeType.SPARSE_TENSOR:
    case AttributeType.SPARSE_TENSORS:
    case AttributeType.TYPE_PROTO:
    case AttributeType.TYPE_PROTOS: throw new GradcamError('UNSUPPORTED', `${ctx.source}: ${where} has attribute type ${type}, which is not supported`);
    default: throw new WeightsError(`${ctx.source}: ${where} has no value (type ${type})`);
  }
}

// Every input is the graph input, an initializer or an earlier node's output; every value is defined once.
function checkOrder(nodes: readonly OnnxNode[], initializers: ReadonlyMap<string, OnnxTensor>, input: string, source: string): Set<string> {
  const defined = new Set([...initializers.keys(), input]);
  const later = new Set(nodes.flatMap((n) => n.outputs));
  for (const node of nodes) {
    for (const value of node.inputs) {
      if (value === '' || defined.has(value)) continue;
      const why = later.has(value) ? 'is computed by a later node (the graph is not topologically sorted)' : 'is not a graph input, an initializer or an output of an earlier node';
      throw new WeightsError(`${source}: value '${value}', an input of node '${node.name}' (${node.opType}), ${why}`);
    }
    for (const value of node.outputs) {
      if (value === '') continue;
      if (defined.has(value)) throw new WeightsError(`${source}: value '${value}' is defined twice (again by node '${node.name}')`);
      defined.add(value);
    }
  }
  return defined;
}
