"""What the pytorch-grad-cam benchmarks share (bench/pytorch_gradcam.py, bench/zoo_pytorch.py): importing
pytorch-grad-cam from the checkout in $PGC, median timing, and the --serve loop that bench/run.js drives
for paired timings (one 'figure' line on stdin -> one time in ms on stdout)."""
import os, statistics, sys, time, types

sys.path.insert(0, os.environ["PGC"])
# ttach (test-time augmentation) is imported by pytorch-grad-cam but unused without aug_smooth.
_tta = types.ModuleType("ttach")
_tta.Compose = _tta.HorizontalFlip = _tta.Multiply = lambda *a, **k: None
sys.modules.setdefault("ttach", _tta)
from pytorch_grad_cam import GradCAM, GuidedBackpropReLUModel  # noqa: E402,F401
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402,F401


def timed(fn, runs):
    """Median milliseconds of `runs` calls after one warm-up call."""
    fn()
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(ms), 1)


def serve(figure):
    """After a warm-up, time one figure per 'figure' line on stdin; any other line ends the loop."""
    figure()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "figure":
            break
        t = time.perf_counter()
        figure()
        print(round((time.perf_counter() - t) * 1000, 1), flush=True)
