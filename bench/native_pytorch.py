"""The seed figure as a careful PyTorch user writes it, for a side-by-side ratio (bench/native.js).

Needs Debian's python3-torch/torchvision; not part of the package. The figure is what gradcam-wasm's
seed figure computes, written for speed rather than through pytorch-grad-cam:
- one forward pass with hooks on layer1..layer4 (parameters frozen, the input requires grad);
- ONE torch.autograd.grad from the target logit to the four activations;
- the four Grad-CAM maps (channel means of the gradients, ReLU of the weighted sum, bilinear upsampling to
  the input, min-max normalisation);
- one guided pass to the input (every nn.ReLU module lets a gradient through only where its input and the
  incoming gradient are both positive) and Guided Grad-CAM for each layer.

Run it with glibc told to keep memory (bench/native.js sets MALLOC_MMAP_THRESHOLD_ etc.), 2 threads.
Prints one JSON line: every figure's milliseconds after one warm-up figure.
"""
import argparse, json, time

import torch
import torch.nn.functional as F

import torch_resnet34

LAYERS = ["layer1", "layer2", "layer3", "layer4"]


def load(path):
    model = torch_resnet34.load(path)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class GuidedRelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.clamp(min=0)
        ctx.save_for_backward(x)
        return y

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * ((x > 0) & (dy > 0)).to(dy.dtype)


class GuidedReluModule(torch.nn.Module):
    def forward(self, x):
        return GuidedRelu.apply(x)


def swap_relus(module, make):
    """Replaces every nn.ReLU child (recursively); returns the replaced modules to put back."""
    swapped = []
    for name, child in module.named_children():
        if isinstance(child, torch.nn.ReLU):
            setattr(module, name, make())
            swapped.append((module, name, child))
        else:
            swapped += swap_relus(child, make)
    return swapped


def make_figure(model, x, target):
    acts = {}
    for n in LAYERS:
        getattr(model, n).register_forward_hook(lambda m, i, o, n=n: acts.__setitem__(n, o))
    size = x.shape[-2:]

    def figure():
        xin = x.clone().requires_grad_(True)
        logits = model(xin)
        grads = torch.autograd.grad(logits[0, target], [acts[n] for n in LAYERS])
        maps = []
        with torch.no_grad():
            for n, g in zip(LAYERS, grads):
                a = acts[n]
                cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True))
                cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0]
                cam = cam - cam.min()
                maps.append(cam / (cam.max() + 1e-7))
        acts.clear()
        swapped = swap_relus(model, GuidedReluModule)
        try:
            xg = x.clone().requires_grad_(True)
            out = model(xg)
            (guided,) = torch.autograd.grad(out[0, target], [xg])
        finally:
            for parent, name, relu in swapped:
                setattr(parent, name, relu)
            acts.clear()
        with torch.no_grad():
            guided_cams = [guided[0] * m for m in maps]
        return maps, guided, guided_cams

    return figure


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--target", type=int, default=281)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load(args.weights)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    figure = make_figure(model, x, args.target)
    figure()
    ms = []
    for _ in range(args.runs):
        t = time.perf_counter()
        figure()
        ms.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"threads": args.threads, "torch": torch.__version__, "figureMs": [round(m, 2) for m in ms]}))


if __name__ == "__main__":
    main()
