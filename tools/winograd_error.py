"""How far Winograd convolutions move Grad-CAM maps from float64 (not part of the test suite; needs python3-torch).

The engine runs ResNet34's 3x3 stride-1 convolutions (forward and input gradient) as Winograd F(2x2, 3x3).
F(4x4, 3x3) would need 2.25x fewer multiplications than F(2x2) but rounds more (larger transform
coefficients). This script answers whether it stays at PyTorch's own float32 level, before any kernel is
written: it runs the seed ResNet34 in float32 with those convolutions (forward and input gradient) replaced
by Winograd F(m x m, 3x3) written in torch, for m = 2 and 4, and prints each variant's mean / max |diff|
from float64 Grad-CAM maps (tools/float64_check.py's), beside pytorch-grad-cam's float32 reference and a
float32 PyTorch model with its own convolutions.

The filters' transforms are computed in float64 and rounded once (the best a kernel can do); the tiles'
transforms, the products over channels and the output transforms run in float32. Torch sums the products
in its own order, so the F(2x2) column is a calibration: it should be near the engine's measured error
(float64_check.py's "ours" column).

  /usr/bin/python3 tools/winograd_error.py [--reference ../shared/reference] [--tiles 2,4]
"""
import argparse, os, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from float64_check import CASES, LAYERS, gradcam_float64, load_model, load_npy, stats  # noqa: E402

# Lavin & Gray's matrices: F(2, 3) on the points 0, 1, -1, inf; F(4, 3) on 0, 1, -1, 2, -2, inf.
MATRICES = {
    2: (
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]],
    ),
    4: (
        [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    ),
}


def winograd_conv(x, w, m):
    """A 3x3 stride-1 pad-1 convolution of x (N, C, H, W) with w (K, C, 3, 3) as Winograd F(m x m, 3x3), in x's dtype."""
    bt, g, at = MATRICES[m]
    dt = x.dtype
    bt, at = torch.tensor(bt, dtype=dt), torch.tensor(at, dtype=dt)
    g = torch.tensor(g, dtype=torch.float64)
    u = (g @ w.double() @ g.T).to(dt)  # K, C, a, a: rounded once
    n, c, h, wd = x.shape
    a = m + 2
    th, tw = -(-h // m), -(-wd // m)
    xp = torch.nn.functional.pad(x, (1, tw * m + 1 - wd, 1, th * m + 1 - h))
    tiles = xp.unfold(2, a, m).unfold(3, a, m)  # N, C, th, tw, a, a
    v = bt @ tiles @ bt.T
    prod = torch.einsum("kcij,nctwij->nktwij", u, v)
    y = at @ prod @ at.T  # N, K, th, tw, m, m
    return y.permute(0, 1, 2, 4, 3, 5).reshape(n, -1, th * m, tw * m)[:, :, :h, :wd]


class WinogradFn(torch.autograd.Function):
    """Forward and input gradient both as Winograd (the input gradient of a 3x3 stride-1 pad-1 convolution is
    one with the filters turned 180 degrees and their in/out channels swapped); no weight gradient."""

    @staticmethod
    def forward(ctx, x, w, m):
        ctx.save_for_backward(w)
        ctx.m = m
        return winograd_conv(x, w, m)

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return winograd_conv(g.contiguous(), w.flip(2, 3).transpose(0, 1).contiguous(), ctx.m), None, None


class WinogradConv(torch.nn.Module):
    def __init__(self, conv, m):
        super().__init__()
        self.weight = conv.weight.detach()
        self.m = m

    def forward(self, x):
        return WinogradFn.apply(x, self.weight, self.m)


def with_winograd(model, m):
    """The model with every 3x3 stride-1 pad-1 convolution of layer1..layer4 run as F(m x m, 3x3)."""
    for name, mod in list(model.named_modules()):
        if isinstance(mod, torch.nn.Conv2d) and name.startswith("layer") and mod.kernel_size == (3, 3) \
                and mod.stride == (1, 1) and mod.padding == (1, 1) and mod.bias is None:
            parent, leaf = name.rsplit(".", 1)
            setattr(model.get_submodule(parent), leaf, WinogradConv(mod, m))
    return model


def self_test():
    """Each Winograd variant against torch's own convolution in float64, forward and input gradient."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 5, 9, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(6, 5, 3, 3, dtype=torch.float64, generator=gen)
    dy = torch.randn(1, 6, 9, 7, dtype=torch.float64, generator=gen)
    want = torch.nn.functional.conv2d(x, w, padding=1)
    (want_dx,) = torch.autograd.grad(want, x, dy)
    for m in MATRICES:
        got = WinogradFn.apply(x, w, m)
        (got_dx,) = torch.autograd.grad(got, x, dy)
        err = max(float((got - want).abs().max()), float((got_dx - want_dx).abs().max()))
        if err > 1e-10:
            raise AssertionError(f"F({m}x{m}, 3x3) differs from conv2d by {err}")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("--reference", default=os.environ.get("GRADCAM_REFERENCE", os.path.join(root, "..", "shared", "reference")))
    p.add_argument("--tiles", default="2,4", help="Winograd output tile sizes to try (2 and/or 4)")
    args = p.parse_args()
    torch.set_num_threads(2)
    self_test()
    ref = args.reference
    weights = os.path.join(ref, "resnet34-seed1.safetensors")
    truth = load_model(weights)
    variants = {"torch float32": load_model(weights).float()}
    for m in (int(t) for t in args.tiles.split(",")):
        variants[f"F({m}x{m}) float32"] = with_winograd(load_model(weights).float(), m)
    cols = ["reference"] + list(variants)
    print(f"{'case':28s} " + " ".join(f"{c:>20s}" for c in cols) + "   (mean / max |diff| from float64, normalised maps)")
    worst = {c: {} for c in cols}
    for name, tag in CASES:
        x = load_npy(os.path.join(ref, "inputs", f"{name}.input.npy"))
        target, maps = gradcam_float64(truth, torch.from_numpy(x), 281 if tag == "c281" else None)
        got = {"reference": {l: np.load(os.path.join(ref, "refs", name, f"gradcam_{l}_{tag}.npy")) for l in LAYERS}}
        for c, model in variants.items():
            got[c] = gradcam_float64(model, torch.from_numpy(x.astype(np.float32)), target)[1]
        for l in LAYERS:
            cells = []
            for c in cols:
                mean, mx = stats(got[c][l], maps[l])
                worst[c][l] = max(worst[c].get(l, 0), mean)
                cells.append(f"{mean:9.1e} / {mx:8.1e}")
            print(f"{name + '/' + tag + '/' + l:28s} " + " ".join(f"{s:>20s}" for s in cells))
    for c in cols:
        print(f"worst mean |{c} - float64| per layer:", ", ".join(f"{l} {v:.1e}" for l, v in worst[c].items()))


if __name__ == "__main__":
    sys.exit(main())
