"""pytorch-grad-cam timings for the same figure, for a side-by-side ratio (run by bench/run.js --torch).

Needs Debian's python3-torch/torchvision/opencv and a pytorch-grad-cam checkout in $PGC (not part of
this project). The seed figure is what a pytorch-grad-cam user runs for it: one GradCAM call per layer
(layer1..layer4) plus one GuidedBackpropReLUModel call, on one 224x224 input, torch with 2 threads.
"""
import argparse, json

import torch

from torch_resnet34 import load

from pgc_common import ClassifierOutputTarget, GradCAM, GuidedBackpropReLUModel, serve, timed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--serve", action="store_true", help="after warm-up, time one figure per 'figure' line on stdin")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load(args.weights)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    targets = [ClassifierOutputTarget(281)]
    cams = {n: GradCAM(model=model, target_layers=[getattr(model, n)[-1]]) for n in ["layer1", "layer2", "layer3", "layer4"]}
    gb = GuidedBackpropReLUModel(model=model, device="cpu")

    def forward():
        with torch.no_grad():
            model(x)

    def layer4():
        cams["layer4"](input_tensor=x, targets=targets)

    def figure():
        for cam in cams.values():
            cam(input_tensor=x, targets=targets)
        gb(x, target_category=281)

    if args.serve:
        return serve(figure)

    print(json.dumps({"threads": args.threads, "torch": torch.__version__, "forwardMs": timed(forward, args.runs), "gradcamLayer4Ms": timed(layer4, args.runs), "seedFigureMs": timed(figure, args.runs)}))


if __name__ == "__main__":
    main()
