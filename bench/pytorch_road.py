"""pytorch-grad-cam's ROADCombined timed on the same input and map as bench/road.mjs (run by bench/run.js --torch).

Needs Debian's python3-torch/torchvision/scipy and a pytorch-grad-cam checkout in $PGC (not part of this
project). Only pytorch_grad_cam.metrics is imported (the package's __init__ pulls in every method and
their dependencies); OpenCV, which perturbation_confidence imports for its 'auto' threshold only, is
stubbed when python3-opencv is missing. Prints one JSON line: median ms and peak RSS.
A checkout for $PGC from the mirror: git -C <mirror> archive HEAD pytorch_grad_cam | tar -x -C "$PGC".
"""
import argparse, json, os, resource, statistics, sys, time, types

import numpy as np
import torch

from torch_resnet34 import load

package = types.ModuleType("pytorch_grad_cam")
package.__path__ = [os.path.join(os.environ["PGC"], "pytorch_grad_cam")]
sys.modules["pytorch_grad_cam"] = package
try:
    import cv2  # noqa: F401
except ImportError:
    sys.modules["cv2"] = types.ModuleType("cv2")
from pytorch_grad_cam.metrics.road import ROADCombined  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--input", required=True, help=".npy [1, 3, H, W], normalised")
    p.add_argument("--map", required=True, help=".npy [H, W]")
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load(args.weights)
    x = torch.from_numpy(np.load(args.input))
    cams = np.load(args.map)[None]
    targets = [ClassifierOutputTarget(args.target)]
    with torch.no_grad():
        model(x)  # warm-up
    ms = []
    for _ in range(args.runs):
        t = time.perf_counter()
        score = float(ROADCombined()(x, cams, targets, model)[0])
        ms.append((time.perf_counter() - t) * 1000)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "roadCombinedMs": round(statistics.median(ms)), "roadCombined": score, "peakRssMB": rss}))


if __name__ == "__main__":
    main()
