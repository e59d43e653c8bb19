"""pytorch-grad-cam's AblationCAM and ScoreCAM timings for bench/methods.js --torch (one method per process,
so that each peak RSS is its own).

Needs Debian's python3-torch/torchvision/opencv and a pytorch-grad-cam checkout in $PGC (not part of this
project). Usage: python3 pytorch_methods.py --weights W --method ablationcam|scorecam --layer layer3|layer4
Prints {"ms": ..., "peakRssMB": ...}: one call after a Grad-CAM warm-up, torch with 2 threads, 224x224 input.
"""
import argparse, json, os, resource, sys, time, types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ["PGC"])
# ttach (aug_smooth only) and tqdm (progress bars) are imported by pytorch-grad-cam; neither changes timings.
_tta = types.ModuleType("ttach")
_tta.Compose = _tta.HorizontalFlip = _tta.Multiply = lambda *a, **k: None
sys.modules.setdefault("ttach", _tta)
_tqdm = types.ModuleType("tqdm")
_tqdm.tqdm = lambda it, *a, **k: it
sys.modules.setdefault("tqdm", _tqdm)
from pytorch_gradcam import load  # noqa: E402
from pytorch_grad_cam import AblationCAM, GradCAM, ScoreCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--method", choices=["ablationcam", "scorecam"], required=True)
    p.add_argument("--layer", choices=["layer3", "layer4"], required=True)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load(args.weights)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    targets = [ClassifierOutputTarget(281)]
    layer = getattr(model, args.layer)[-1]
    GradCAM(model=model, target_layers=[layer])(input_tensor=x, targets=targets)  # warm-up
    cam = (AblationCAM if args.method == "ablationcam" else ScoreCAM)(model=model, target_layers=[layer])
    t = time.perf_counter()
    cam(input_tensor=x, targets=targets)
    ms = (time.perf_counter() - t) * 1000
    print(json.dumps({"ms": round(ms, 1), "peakRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
