import { tf } from '../../tf.js';
import { Graph } from '../../graph/graph.js';
import { GraphModel } from '../../graph/model.js';
import { kerasGraph } from '../../importers/keras.js';
import { noHeap } from '../../ops/kernels/heap.js';
import { OPS } from '../../ops/registry.js';
import type { EngineContext } from '../../ops/types.js';
import { runningBackend } from '../../runtime/index.js';
import type { KerasArtifacts } from './loader.js';

/**
 * A TF.js layers model (Keras topology) on the graph engine (src/importers/keras.ts): layers are the
 * Keras layer names, ReLU and ReLU6 guided. The context defaults to the running wasm backend (tfjs ops
 * only on another tfjs backend).
 */
export class KerasCnn extends GraphModel {
  constructor(artifacts: KerasArtifacts, ctx?: EngineContext) {
    const { spec, requiredInputSize } = kerasGraph(artifacts);
    const context = ctx ?? { heap: tf.getBackend() === 'wasm' ? runningBackend().heap : noHeap(tf.getBackend()), ops: OPS };
    super(new Graph(spec, context), spec, { labels: artifacts.labels, requiredInputSize, minInputSize: 32 });
  }
}
