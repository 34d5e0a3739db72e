"""Running an exported model in onnxruntime (CPU)."""
from typing import List

import numpy as np
from torch import Tensor

from .deps import require


def ort_session(path: str, threads: int = 1):
    """An onnxruntime CPU session of the model in ``path``.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (0: onnxruntime's default, all cores).

    Raises:
        MissingDeployDependency: onnxruntime is not installed.
    """
    ort = require('onnxruntime', 'to run the ONNX model')
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


def run_session(session, inputs: Tensor) -> List[np.ndarray]:
    """The session's outputs, in its output order, for one input batch.

    Args:
        session: from :func:`ort_session`; its only input is the image batch.
        inputs: ``(N, 3, H, W)``, the shape the model was exported with.
    """
    name = session.get_inputs()[0].name
    return session.run(None, {name: inputs.detach().cpu().float().numpy()})
