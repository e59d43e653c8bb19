"""torchvision's ResNet34 from a safetensors file (float32), for the pytorch-grad-cam side of the benchmarks."""
import json

import numpy as np
import torch
import torchvision


def load(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    state = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        state[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"]).copy())
    model = torchvision.models.resnet34(weights=None)
    model.load_state_dict(state, strict=False)
    return model.eval()
