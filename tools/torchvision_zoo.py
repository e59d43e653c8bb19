"""Torchvision CNN families beyond the four of ../shared/reference/zoo, made with the zoo's recipe, for
tools/torchvision_zoo.mjs to check our ONNX importer on (a dev tool: never a test dependency).

Per family (those torchvision 0.14 has): the zoo's make_zoo.py builds it (torch.manual_seed(SEED), random
BatchNorm statistics from a generator seeded SEED + 1000, every float tensor rounded to 64 levels of its
power-of-two scale, eval()) and exports it as the zoo does (opset 17, constant folding, dynamic batch/H/W).
Inception-v3 and GoogLeNet have their auxiliary heads off; Inception-v3 takes 299x299 inputs (the zoo's
inputs resized bilinearly). Written under OUT (default /tmp/tvzoo):
  OUT/models/ARCH.onnx
  OUT/inputs/NAME-SIZE.input.npy                       the zoo's inputs at the family's size
  OUT/refs/ARCH/INPUT_TARGET_logits.npy                torch's logits
  OUT/refs/ARCH/INPUT_TARGET_LAYER_{cam,cam64,raw}.npy pytorch-grad-cam GradCAM (float32 and float64 model), raw map
  OUT/refs/ARCH/INPUT_TARGET_guided.npy                guided backpropagation (the zoo's convention)
  OUT/manifest.json                                    per family: layers (the last is pytorch-grad-cam's
                                                       documented default), input size, top-1, op counts, or the
                                                       export error
LAYER is a torch module path: a middle layer, then the family's usual Grad-CAM layer (pytorch-grad-cam's docs:
layer4[-1], features[-1], layers[-1]...). TARGET is top1 or c281.

  /usr/bin/python3 tools/torchvision_zoo.py [--out /tmp/tvzoo] [--pgc /tmp/pgc] [ARCH ...]

pytorch-grad-cam: git -C /work/.mirror/jacobgil+pytorch-grad-cam/repo archive HEAD pytorch_grad_cam | tar -x -C /tmp/pgc
"""
import argparse, importlib.util, json, os, sys, time, traceback, types

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# [middle layer, default layer] per family; size 299 for Inception-v3. The constructor options turn off the
# auxiliary classifiers, which torch.onnx.export would otherwise trace only in training mode anyway.
FAMILIES = {
    'alexnet': (['features.7', 'features.12'], {}),
    'vgg11_bn': (['features.14', 'features.28'], {}),
    'resnet50': (['layer2', 'layer4'], {}),
    'resnext50_32x4d': (['layer2', 'layer4'], {}),
    'wide_resnet50_2': (['layer2', 'layer4'], {}),
    'squeezenet1_1': (['features.7', 'features.12'], {}),
    'densenet121': (['features.denseblock3', 'features.norm5'], {}),
    'inception_v3': (['Mixed_6e', 'Mixed_7c'], {'aux_logits': False, 'init_weights': True}),
    'googlenet': (['inception4e', 'inception5b'], {'aux_logits': False, 'init_weights': True}),
    'shufflenet_v2_x1_0': (['stage3', 'conv5'], {}),
    'mobilenet_v3_small': (['features.6', 'features.12'], {}),
    'mobilenet_v3_large': (['features.12', 'features.16'], {}),
    'mnasnet0_5': (['layers.11', 'layers.16'], {}),
    'efficientnet_b0': (['features.5', 'features.8'], {}),
    'efficientnet_v2_s': (['features.4', 'features.7'], {}),
    'regnet_y_400mf': (['trunk_output.block3', 'trunk_output.block4'], {}),
    'regnet_x_400mf': (['trunk_output.block3', 'trunk_output.block4'], {}),
    'convnext_tiny': (['features.5', 'features.7'], {}),
}
SIZE = {'inception_v3': 299}
FIXED = 281


def load_make_zoo(reference, pgc):
    """The zoo's own script (its recipe, raw map and guided pass), with pytorch-grad-cam importable."""
    sys.path.insert(0, pgc)
    # pytorch-grad-cam imports ttach (test-time augmentation) at start-up; it is unused without aug_smooth.
    tta = types.ModuleType('ttach')
    tta.Compose = tta.HorizontalFlip = tta.Multiply = lambda *a, **k: None
    sys.modules.setdefault('ttach', tta)
    spec = importlib.util.spec_from_file_location('make_zoo', os.path.join(reference, 'zoo', 'scripts', 'make_zoo.py'))
    mz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mz)
    return mz


def build(mz, arch, seed, kwargs):
    """make_zoo.build with constructor options (it calls torchvision.models.ARCH(weights=None))."""
    import torchvision
    if not kwargs:
        return mz.build(arch, seed)
    orig = getattr(torchvision.models, arch)
    setattr(torchvision.models, arch, lambda weights=None: orig(weights=weights, **kwargs))
    try:
        return mz.build(arch, seed)
    finally:
        setattr(torchvision.models, arch, orig)


def inputs_at(reference, out, size):
    """The zoo's inputs (1x3x224x224, normalised) at size x size: bilinear, half-pixel centres."""
    res = {}
    for name in ('chelsea', 'astronaut'):
        x = torch.from_numpy(np.load(os.path.join(reference, 'inputs', f'{name}.input.npy')))
        if size != x.shape[-1]:
            x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False)
        path = os.path.join(out, 'inputs', f'{name}-{size}.input.npy')
        np.save(path, x.numpy().astype(np.float32))
        res[name] = path
    return res


def make(mz, arch, seed, out, reference, f64):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    layers, kwargs = FAMILIES[arch]
    size = SIZE.get(arch, 224)
    model = build(mz, arch, seed, kwargs)
    f = os.path.join(out, 'models', f'{arch}.onnx')
    export = lambda axes: torch.onnx.export(model, torch.zeros(1, 3, size, size), f, opset_version=17, input_names=['input'],
                                            output_names=['logits'], do_constant_folding=True,
                                            dynamic_axes={'input': axes, 'logits': {0: 'batch'}})
    dynamic_hw = True
    try:
        export({0: 'batch', 2: 'height', 3: 'width'})
    except torch.onnx.errors.SymbolicValueError as e:
        # torch 1.13 exports AdaptiveAvgPool2d to a size other than 1x1 (AlexNet's 6x6, VGG's 7x7) only for a known
        # input size: as a user must, these export with a static height and width.
        if 'adaptive_avg_pool2d' not in str(e):
            raise
        dynamic_hw = False
        export({0: 'batch'})
    vals, ops = mz.onnx_layer_values(f, layers)
    entry = {'file': f'models/{arch}.onnx', 'bytes': os.path.getsize(f), 'size': size, 'dynamic_hw': dynamic_hw, 'ops': ops,
             'layers': {l: vals[l] for l in layers}, 'inputs': {}, 'top1': {}}
    model64 = build(mz, arch, seed, kwargs).double() if f64 else None
    rd = os.path.join(out, 'refs', arch)
    os.makedirs(rd, exist_ok=True)
    for name, path in inputs_at(reference, out, size).items():
        entry['inputs'][name] = os.path.relpath(path, out)
        x = torch.from_numpy(np.load(path)).float()
        with torch.no_grad():
            logits = model(x)[0].numpy()
        top1 = int(logits.argmax())
        entry['top1'][name] = top1
        for tname, t in (('top1', top1), (f'c{FIXED}', FIXED)):
            p = lambda s: os.path.join(rd, f'{name}_{tname}_{s}.npy')
            np.save(p('logits'), logits.astype(np.float32))
            for layer in layers:
                cam = GradCAM(model=model, target_layers=[mz.module(model, layer)])
                np.save(p(f'{layer}_cam'), cam(input_tensor=x, targets=[ClassifierOutputTarget(t)])[0].astype(np.float32))
                np.save(p(f'{layer}_raw'), mz.raw_gradcam(model, x, layer, t).astype(np.float32))
                if model64 is not None:
                    cam = GradCAM(model=model64, target_layers=[mz.module(model64, layer)])
                    np.save(p(f'{layer}_cam64'), cam(input_tensor=x.double(), targets=[ClassifierOutputTarget(t)])[0].astype(np.float32))
            np.save(p('guided'), mz.guided_backprop(model, x, t).astype(np.float32))
            if model64 is not None:
                np.save(p('guided64'), mz.guided_backprop(model64, x.double(), t).astype(np.float32))
    return entry


def record(man_path, arch, entry, seed):
    """Adds one family to the manifest, read afresh (runs over disjoint families may share one OUT)."""
    import torchvision
    man = json.load(open(man_path)) if os.path.exists(man_path) else {'seed': seed, 'models': {}}
    man.update(torch=torch.__version__, torchvision=torchvision.__version__)
    man['models'][arch] = entry
    json.dump(man, open(man_path, 'w'), indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='/tmp/tvzoo')
    ap.add_argument('--reference', default=os.path.join(ROOT, '..', 'shared', 'reference'))
    ap.add_argument('--pgc', default=os.environ.get('PGC', '/tmp/pgc'), help='folder holding the pytorch_grad_cam package')
    ap.add_argument('--seed', type=int, default=11, help="the zoo's seed")
    ap.add_argument('--no-f64', action='store_true', help='skip the float64 maps (cam64)')
    ap.add_argument('archs', nargs='*', help='families (default: all of FAMILIES that torchvision has)')
    a = ap.parse_args()
    import torchvision
    mz = load_make_zoo(a.reference, a.pgc)
    torch.set_num_threads(2)
    for d in ('models', 'inputs', 'refs'):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
    man_path = os.path.join(a.out, 'manifest.json')
    for arch in a.archs or list(FAMILIES):
        if arch not in FAMILIES:
            sys.exit(f'unknown family {arch}; known: {", ".join(FAMILIES)}')
        if not hasattr(torchvision.models, arch):
            record(man_path, arch, {'skipped': f'torchvision {torchvision.__version__} has no {arch}'}, a.seed)
            continue
        t0 = time.time()
        try:
            entry = make(mz, arch, a.seed, a.out, a.reference, not a.no_f64)
            print(arch, f'{time.time() - t0:.0f} s', entry['ops'], flush=True)
        except Exception as e:  # one family's export failure is a result too
            entry = {'error': f'{type(e).__name__}: {str(e).splitlines()[0][:300]}'}
            traceback.print_exc()
        record(man_path, arch, entry, a.seed)


if __name__ == '__main__':
    main()
