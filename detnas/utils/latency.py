"""Wall-clock latency of a module on this machine's CPU (or CUDA when given a CUDA model)."""
import statistics
import time
from typing import Callable, Dict

import torch


@torch.no_grad()
def measure_latency(fn: Callable[[], object], warmup: int = 3, iters: int = 10,
                    cuda: bool = False) -> Dict[str, float]:
    """Times ``fn()`` after ``warmup`` untimed calls.

    Args:
        fn: the call to time (e.g. ``lambda: model(x)``).
        warmup: untimed calls first.
        iters: timed calls.
        cuda: synchronise CUDA around each call.

    Returns:
        dict with ``median_ms``, ``mean_ms``, ``min_ms`` and ``fps`` (1000 / median_ms).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    return dict(median_ms=median, mean_ms=statistics.fmean(times), min_ms=min(times),
                fps=1000.0 / median)
