/**
 * Torch module paths from the scopes that torch.onnx.export writes into node names
 * (`/layer4/layer4.2/relu_1/Relu`), each with the value its module outputs.
 */
import type { OnnxNode } from './ir.js';

/**
 * The module paths a node name's scopes denote, outermost first: `/features/features.18/features.18.2/Clip`
 * gives `features`, `features.18`, `features.18.2`. A named child's scope is its attribute name; an indexed
 * child's scope is its parent's scope, a dot and the index. Names without scopes give none.
 */
export function modulePaths(nodeName: string): string[] {
  if (!nodeName.startsWith('/')) return [];
  const scopes = nodeName.split('/').slice(1, -1);
  const paths: string[] = [];
  let parentScope = '';
  for (const scope of scopes) {
    if (scope === '') return paths;
    const parentPath = paths[paths.length - 1];
    const index = parentScope !== '' && scope.startsWith(`${parentScope}.`) ? scope.slice(parentScope.length + 1) : undefined;
    const step = index !== undefined && /^\d+$/.test(index) ? index : scope;
    paths.push(parentPath === undefined ? step : `${parentPath}.${step}`);
    parentScope = scope;
  }
  return paths;
}

/**
 * Every module in graph order (of its first node), with the output of the last node inside its scope: the
 * tensor a forward hook on the module sees. A module whose last node has several outputs returns a tuple
 * and is left out.
 */
export function moduleLayers(nodes: readonly OnnxNode[]): { name: string; value: string }[] {
  const last = new Map<string, OnnxNode>();
  for (const node of nodes) for (const path of modulePaths(node.name)) last.set(path, node);
  const layers: { name: string; value: string }[] = [];
  for (const [name, node] of last) {
    const outputs = node.outputs.filter((o) => o !== '');
    if (outputs.length === 1) layers.push({ name, value: outputs[0]! });
  }
  return layers;
}
