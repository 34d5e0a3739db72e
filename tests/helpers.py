"""Helpers shared by the tests (importable as ``helpers``: pytest's pythonpath)."""
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tiny_data_options(data_root: str):
    """--cfg-options pointing tests/configs/*_tiny.py at a generated data set."""
    from detnas.experiments import data_root_options
    return data_root_options(data_root)


def load_script(path: str):
    """A repo script (``tools/...`` or ``bench/...``, relative to the root) as a module."""
    import importlib.util
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f'script_{name}', osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(args, timeout=600, env=None):
    """Runs ``python tools/...`` from the repo root; returns the CompletedProcess."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    full_env.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def kill_9_when(args, ready, log_path, timeout=300):
    """Starts ``python tools/...`` (output to ``log_path``), waits until ``ready()`` is true
    and kills it with SIGKILL; fails if it ends first or ``ready`` takes over ``timeout``."""
    import signal
    import time
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + timeout
        while not ready():
            assert proc.poll() is None, f'it ended before the kill: {log_path}'
            assert time.time() < deadline, f'not ready after {timeout} s: {log_path}'
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def close(a, b, rel: float = 1e-5) -> bool:
    """``a`` equals ``b`` up to ``rel`` of ``b``'s largest magnitude."""
    return (a - b).abs().max().item() <= rel * b.abs().max().item()


def random_input(n: int = 2, size: int = 64, seed: int = 3):
    """A seeded random image batch ``(n, 3, size, size)``."""
    import torch
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def randomise_bn(module, seed=0):
    """Non-trivial BN statistics and affine parameters (so slicing mistakes show)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def seed_resnet(depth=18, seed=0):
    """An mmdet ResNet with random weights and BN statistics: a stand-in for a pretrained
    seed (every check here is an identity that holds for any weights)."""
    import torch
    from mmdet.models.backbones import ResNet

    from detnas.utils.init_weights import init_weights_quietly
    torch.manual_seed(seed)
    net = ResNet(depth=depth, out_indices=(0, 1, 2, 3))
    init_weights_quietly(net)
    randomise_bn(net, seed)
    net.eval()  # mmdet's ResNet.train() returns None
    return net
