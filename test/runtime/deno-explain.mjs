// Run by Deno from test/runtime/deno.test.ts: the parity cases through the public API, written as .npy files.
import { createExplainer, decodeNpy, encodeNpy } from '../../dist/index.js';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

const [reference, out, ...inputs] = Deno.args;
const layers = ['layer1', 'layer2', 'layer3', 'layer4'];
const ex = await createExplainer({ weights: join(reference, 'resnet34-seed1.safetensors') });
for (const name of inputs) {
  const npy = decodeNpy(new Uint8Array(await readFile(join(reference, 'inputs', `${name}.input.npy`))));
  for (const t of ['top1', 'c281']) {
    const e = await ex.explain({ tensor: npy.data, shape: npy.shape }, { layers, target: t === 'c281' ? 281 : undefined, guided: true });
    const dir = join(out, `${name}-${t}`);
    await mkdir(dir, { recursive: true });
    const files = [['logits.npy', e.logits, [e.logits.length]], ['guided.npy', e.guided, [e.height, e.width, 3]]];
    for (const l of layers) {
      files.push([`cam-${l}.npy`, e.cams[l].map, [e.height, e.width]], [`cam-${l}-raw.npy`, e.cams[l].raw, [e.cams[l].rawHeight, e.cams[l].rawWidth]], [`guided-gradcam-${l}.npy`, e.guidedGradCam[l], [e.height, e.width, 3]]);
    }
    await Promise.all(files.map(([f, data, shape]) => writeFile(join(dir, f), encodeNpy(data, shape))));
  }
}
ex.dispose();
console.log(JSON.stringify(ex.runtime));
