"""The reference ResNet34 (../shared/reference/resnet34-seed1.safetensors, its exact weights) exported to ONNX as a
PyTorch user would: torchvision.models.resnet34 with those weights, eval(), torch.onnx.export with opset 17,
constant folding (each BatchNorm folds into its conv) and dynamic batch/height/width; input 'input', output
'logits'. tools/resnet34_onnx.mjs then runs our CLI on it against the ResNet34 references (a dev tool, never a
test dependency: CI has no python).

  /usr/bin/python3 tools/resnet34_onnx.py [--reference ../shared/reference] [--out /tmp/resnet34-seed1.onnx]
"""
import argparse, os, sys

import numpy as np
import torch

from float64_check import load_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--reference', default=os.path.join(ROOT, '..', 'shared', 'reference'))
    p.add_argument('--out', default='/tmp/resnet34-seed1.onnx')
    a = p.parse_args()
    # float64_check's loader gives a float64 copy; float32 -> float64 -> float32 is exact.
    model = load_model(os.path.join(a.reference, 'resnet34-seed1.safetensors')).float().eval()
    x = torch.from_numpy(np.load(os.path.join(a.reference, 'inputs', 'chelsea.input.npy')))
    with torch.no_grad():
        logits = model(x)[0]
    ref = torch.from_numpy(np.load(os.path.join(a.reference, 'refs', 'chelsea', 'logits.npy')))
    print('torch vs reference logits, max |diff|:', float((logits - ref).abs().max()))
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), a.out, opset_version=17, input_names=['input'],
                      output_names=['logits'], do_constant_folding=True,
                      dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'}, 'logits': {0: 'batch'}})
    print('wrote', a.out, os.path.getsize(a.out), 'bytes')


if __name__ == '__main__':
    sys.exit(main())
