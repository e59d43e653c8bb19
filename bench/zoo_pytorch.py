"""pytorch-grad-cam timings for a zoo model (run by bench/run.js --model X.onnx --torch).

Rebuilds the torch model of ../shared/reference/zoo with the zoo's recipe (its README / scripts/make_zoo.py):
torch.manual_seed(SEED), torchvision.models.ARCH(weights=None), random BatchNorm statistics and affine
parameters from a generator seeded SEED + 1000, every float tensor rounded to 64 levels of its power-of-two
scale, eval(). Then times what a pytorch-grad-cam user runs for one explanation: one GradCAM call per layer
(the layers given, e.g. a middle one and the last one) plus one GuidedBackpropReLUModel call, on one 224x224
input, torch with 2 threads. Needs Debian's python3-torch/torchvision and a pytorch-grad-cam checkout in $PGC.
"""
import argparse, json, math

import torch
import torchvision

from pgc_common import ClassifierOutputTarget, GradCAM, GuidedBackpropReLUModel, serve, timed


def zoo_model(arch, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    gen = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        # BatchNorm draws in named_modules() order: mean, var, weight, bias for each.
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                for t, draw in ((m.running_mean, lambda: 0.1 * torch.randn(n, generator=gen)),
                                (m.running_var, lambda: torch.rand(n, generator=gen) + 0.5),
                                (m.weight, lambda: torch.rand(n, generator=gen) + 0.5),
                                (m.bias, lambda: 0.1 * torch.randn(n, generator=gen))):
                    t.copy_(draw())
        tensors = list(model.parameters()) + [b for b in model.buffers() if b.dtype.is_floating_point]
        for t in tensors:
            peak = t.abs().max().item()
            if peak > 0:
                step = 2.0 ** (math.ceil(math.log2(peak)) - 6)
                t.copy_((t / step).round() * step)
    return model.eval()


def submodule(model, path):
    """'features.18' -> model.features[18]; 'layer4' -> model.layer4."""
    m = model
    for part in path.split("."):
        m = m[int(part)] if part.isdigit() else getattr(m, part)
    return m


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--torch-arch", required=True, help="torchvision architecture, e.g. resnet18")
    p.add_argument("--torch-seed", type=int, required=True, help="the zoo's seed (11 for ../shared/reference/zoo)")
    p.add_argument("--layers", required=True, help="comma-separated torch module paths, e.g. layer2,layer4")
    p.add_argument("--target", type=int, default=281)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--serve", action="store_true", help="after warm-up, time one explanation per 'figure' line on stdin")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = zoo_model(args.torch_arch, args.torch_seed)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    targets = [ClassifierOutputTarget(args.target)]
    cams = [GradCAM(model=model, target_layers=[submodule(model, layer)]) for layer in args.layers.split(",")]
    gb = GuidedBackpropReLUModel(model=model, device="cpu")

    def forward():
        with torch.no_grad():
            model(x)

    def explanation():
        for cam in cams:
            cam(input_tensor=x, targets=targets)
        gb(x, target_category=args.target)

    if args.serve:
        return serve(explanation)
    print(json.dumps({"arch": args.torch_arch, "layers": args.layers, "threads": args.threads, "torch": torch.__version__,
                      "forwardMs": timed(forward, args.runs), "explanationMs": timed(explanation, args.runs)}))


if __name__ == "__main__":
    main()
