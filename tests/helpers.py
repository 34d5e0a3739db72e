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


def run_tool(args, timeout=600, env=None):
    """Runs ``python tools/...`` from the repo root; returns the CompletedProcess."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    full_env.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
