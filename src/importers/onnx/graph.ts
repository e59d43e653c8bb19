import { GradcamError } from '../../errors.js';
import type { GraphLayer, GraphSpec } from '../../graph/graph.js';
import type { HostTensor, OpNode } from '../../ops/types.js';
import type { OnnxModel } from './ir.js';
import { isFloatType } from './tensor.js';

/**
 * An ONNX model (the decoded IR) as the engine's graph. The graph's op vocabulary is ONNX's, so nodes map
 * one to one; this importer decides which activations are guided: every Relu (the zoo references'
 * convention: pytorch-grad-cam swaps nn.ReLU modules, functional relu calls look the same in ONNX).
 * Clip (ReLU6), Sigmoid, HardSwish, Erf (GELU) pass plain gradients.
 */
/**
 * A layer whose output only feeds a Relu: torchvision runs those ReLUs in place (`inplace=True`,
 * DenseNet's `F.relu(features, inplace=True)` after `features.norm5`), so the tensor pytorch-grad-cam's
 * forward hook holds becomes the ReLU's output, while its gradient hook, registered before, receives the
 * gradient at the module's own output. The CAM reads the ReLU's output with the module output's gradient,
 * as pytorch-grad-cam does.
 */
function inPlaceRelu(model: OnnxModel, layer: GraphLayer): GraphLayer {
  const readers = model.nodes.filter((n) => n.inputs.includes(layer.value));
  const only = readers.length === 1 ? readers[0]! : undefined;
  return only?.opType === 'Relu' && model.output.name !== layer.value ? { ...layer, activation: only.outputs[0]! } : layer;
}

export function onnxGraph(model: OnnxModel): { spec: GraphSpec; requiredInputSize?: [number, number] } {
  const constants = new Map<string, HostTensor>();
  for (const [name, t] of model.initializers) constants.set(name, { dims: t.dims, get data() { return t.data; }, int: !isFloatType(t.elemType) });
  const nodes: OpNode[] = model.nodes.map((n) => {
    if (n.domain !== '' && n.domain !== 'ai.onnx') throw new GradcamError('UNSUPPORTED', `${n.opType} node '${n.name}' in ${model.source}: domain '${n.domain}' is not supported`);
    return { name: n.name, opType: n.opType, inputs: n.inputs, outputs: n.outputs, attributes: n.attributes, guided: n.opType === 'Relu' };
  });
  const shape = model.input.shape;
  if (shape && typeof shape[1] === 'number' && shape[1] !== 3) {
    throw new GradcamError('UNSUPPORTED', `${model.source}: the input '${model.input.name}' has ${shape[1]} channels; an RGB image model takes 3`);
  }
  const [h, w] = [shape?.[2], shape?.[3]];
  return {
    spec: { source: model.source, nodes, constants, input: model.input.name, output: model.output.name, layers: model.layers.map((l) => inPlaceRelu(model, l)) },
    requiredInputSize: typeof h === 'number' && typeof w === 'number' ? [h, w] : undefined,
  };
}
