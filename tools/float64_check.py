"""Independent check against a float64 PyTorch computation (not part of the test suite; needs python3-torch).

For every input and target of the reference set, runs our CLI (node bin/gradcam.js explain X.npy --raw)
and a float64 torchvision ResNet34 with pytorch-grad-cam's Grad-CAM conventions re-implemented in
float64, then prints the mean and max |diff| of the normalised maps at layer1..layer4: ours vs
float64 and pytorch-grad-cam's float32 reference vs float64. Both float32 engines are a few 1e-7 from
the float64 result, unless a ReLU whose float64 pre-activation is ~1e-7 of its site's range comes out
with the other sign in float32 (a "flip"), which moves the maps below it.

  /usr/bin/python3 tools/float64_check.py [--reference ../shared/reference] [--model X.onnx]

--model runs our CLI on an ONNX export of the same network (tools/resnet34_onnx.py) instead of the weights file.
Such an export folds each BatchNorm into its conv in float32, so it is a (slightly) different network: a third
column then gives ours against float64 run on the export's own weights (each conv's folded weight and bias, no
BatchNorm), the float64 truth of the model our engine was given.
"""
import argparse, json, os, subprocess, sys, tempfile

import numpy as np
import torch
import torchvision

LAYERS = ["layer1", "layer2", "layer3", "layer4"]
CASES = [(name, t) for name in ("chelsea", "astronaut", "chelsea-native") for t in ("top1", "c281")]


def load_npy(path):
    return np.load(path).astype(np.float64)


def load_model(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    state = {k: torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy())
             for k, v in header.items() if k != "__metadata__" for a, b in [v["data_offsets"]]}
    model = torchvision.models.resnet34(weights=None)
    model.load_state_dict(state, strict=False)  # num_batches_tracked is not stored
    return model.double().eval()


def load_onnx_model(path):
    """torchvision's ResNet34 in float64 with the ONNX export's folded weights: BatchNorms become identities,
    each conv takes the weight and bias of the ONNX Conv node named after its module ('/layer1/layer1.0/conv1/Conv')."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(path).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    model = torchvision.models.resnet34(weights=None)
    for name, mod in list(model.named_modules()):
        if isinstance(mod, torch.nn.BatchNorm2d):
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            setattr(parent, name.rsplit(".", 1)[-1], torch.nn.Identity())
    modules = dict(model.named_modules())
    with torch.no_grad():
        for node in graph.node:
            if node.op_type not in ("Conv", "Gemm"):
                continue
            # '/layer2/layer2.0/downsample/downsample.0/Conv' -> layer2.0.downsample.0: a scope 'a.0' under 'a' replaces it
            path = []
            for part in node.name.strip("/").split("/")[:-1]:
                if path and part.startswith(path[-1] + "."):
                    path[-1] = part
                else:
                    path.append(part)
            mod = modules[".".join(path)]
            w, b = init[node.input[1]], init[node.input[2]]
            mod.weight.copy_(torch.from_numpy(w))
            if mod.bias is None:
                mod.bias = torch.nn.Parameter(torch.zeros(w.shape[0]))
            mod.bias.copy_(torch.from_numpy(b))
    return model.double().eval()


def min_max(a):
    a = a - a.min()
    return a / (1e-7 + a.max())


def resize_bilinear(a, height, width):
    """cv2.INTER_LINEAR: half-pixel centres, edge replicate, no antialias; in float64."""
    def axis(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, None)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0
    y0, y1, fy = axis(a.shape[0], height)
    x0, x1, fx = axis(a.shape[1], width)
    rows = a[y0] * (1 - fy)[:, None] + a[y1] * fy[:, None]
    return rows[:, x0] * (1 - fx) + rows[:, x1] * fx


def gradcam_float64(model, x, target):
    """Normalised Grad-CAM maps at every stage, as pytorch-grad-cam computes them for a single layer."""
    acts = {}
    hooks = [getattr(model, l)[-1].register_forward_hook(lambda m, i, o, l=l: acts.__setitem__(l, o)) for l in LAYERS]
    logits = model(x)
    for h in hooks:
        h.remove()
    target = int(logits.argmax()) if target is None else target
    grads = torch.autograd.grad(logits[0, target], [acts[l] for l in LAYERS])
    maps = {}
    for l, g in zip(LAYERS, grads):
        a, g = acts[l][0].detach().numpy(), g[0].numpy()
        raw = np.maximum((g.mean(axis=(1, 2))[:, None, None] * a).sum(axis=0), 0)
        maps[l] = min_max(np.maximum(resize_bilinear(min_max(raw), x.shape[2], x.shape[3]), 0))
    return target, maps


def stats(a, b):
    d = np.abs(np.asarray(a, np.float64) - b)
    return d.mean(), d.max()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("--reference", default=os.environ.get("GRADCAM_REFERENCE", os.path.join(root, "..", "shared", "reference")))
    p.add_argument("--model", help="an ONNX export of the reference ResNet34 to run our CLI on (default: the weights file)")
    args = p.parse_args()
    ref = args.reference
    model = load_model(os.path.join(ref, "resnet34-seed1.safetensors"))
    exported = load_onnx_model(args.model) if args.model else None
    torch.set_num_threads(2)
    extra = f" {'ours - export float64':>22s}" if exported else ""
    print(f"{'case':28s} {'ours - float64':>22s} {'reference - float64':>22s}{extra}   (mean / max |diff| of normalised maps)")
    worst = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, tag in CASES:
            inp = os.path.join(ref, "inputs", f"{name}.input.npy")
            target, maps = gradcam_float64(model, torch.from_numpy(load_npy(inp)), 281 if tag == "c281" else None)
            maps_export = gradcam_float64(exported, torch.from_numpy(load_npy(inp)), target)[1] if exported else None
            out = os.path.join(tmp, f"{name}-{tag}")
            source = ["--model", args.model] if args.model else ["--weights", os.path.join(ref, "resnet34-seed1.safetensors")]
            subprocess.run(["node", os.path.join(root, "bin", "gradcam.js"), "explain", inp, *source, "--layers", ",".join(LAYERS),
                            "--target", str(target), "--no-guided", "--raw", "--json", "--out", out],
                           check=True, stdout=subprocess.DEVNULL)
            ours_dir = os.path.join(out, f"{name}.input")
            for l in LAYERS:
                o = stats(np.load(os.path.join(ours_dir, f"cam-{l}.npy")), maps[l])
                r = stats(np.load(os.path.join(ref, "refs", name, f"gradcam_{l}_{tag}.npy")), maps[l])
                worst[l] = max(worst.get(l, 0), o[0])
                e = f" {stats(np.load(os.path.join(ours_dir, f'cam-{l}.npy')), maps_export[l])[0]:12.1e} / {stats(np.load(os.path.join(ours_dir, f'cam-{l}.npy')), maps_export[l])[1]:8.1e}" if exported else ""
                print(f"{name + '/' + tag + '/' + l:28s} {o[0]:10.1e} / {o[1]:8.1e} {r[0]:12.1e} / {r[1]:8.1e}{e}")
    print("worst mean |ours - float64| per layer:", ", ".join(f"{l} {v:.1e}" for l, v in worst.items()))


if __name__ == "__main__":
    sys.exit(main())
