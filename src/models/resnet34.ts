import { GraphModel } from '../graph/model.js';
import { resnetGraph, RESNET_LAYERS } from '../importers/torchvision-resnet.js';
import { OPS } from '../ops/registry.js';
import type { EngineContext } from '../ops/types.js';
import { runningBackend } from '../runtime/index.js';
import type { ByteSource } from '../runtime/io.js';
import { parseSafetensors, type SafetensorsFile } from '../weights/safetensors.js';

/** A torchvision ResNet state dict (18/34/50/101/152, depth from the keys) as a graph model: layers layer1..layer4, default layer4. */
export function resnetModel(file: SafetensorsFile, source: string, ctx: EngineContext): GraphModel {
  return GraphModel.create(resnetGraph(file, source), ctx, { defaultLayer: RESNET_LAYERS.at(-1), minInputSize: 32 });
}

/** The seed's model by its old name, for code that built it directly (the API builds it in createExplainer). */
export const ResNet34 = {
  /** On the running backend (started by createExplainer or startBackend), unless a context is given. */
  fromSafetensors(source: Uint8Array | ByteSource, ctx?: EngineContext): GraphModel {
    return resnetModel(parseSafetensors(source), 'weights', ctx ?? { heap: runningBackend().heap, ops: OPS });
  },
};
