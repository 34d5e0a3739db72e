#!/usr/bin/env python
"""Export a trained detector to ONNX and check it in onnxruntime.

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT [--out FILE.onnx] [--shape H W]
        [--opset N] [--no-check]

mmdet's layout: the code is :mod:`detnas.tools.export` (also ``detnas export ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('export')
