"""Params, FLOPs and CPU latency of detector configs, measured side by side."""
import statistics
import time
from typing import Dict, Tuple

from detnas.utils.config import build_detector


def measure_costs(configs: Dict[str, str], shape: Tuple[int, int], runs: int = 30) -> Dict:
    """Params, GFLOPs and median CPU latency (batch 1, tensor forward without NMS).

    Latency is measured round-robin over the models so that drifts in machine load hit all
    of them alike.

    Args:
        configs: name -> config path.
        shape: input (H, W).
        runs: timed forwards per model.
    """
    import torch
    from detnas.utils.complexity import TensorModeForward, model_complexity
    costs, models = {}, {}
    for name, config in configs.items():
        model = build_detector(config)
        c = model_complexity(model, tuple(shape))
        costs[name] = dict(params=c['params'], macs=c['macs'], gflops=c['gflops'])
        models[name] = TensorModeForward(model).eval()
    x = torch.rand(1, 3, *shape) * 255
    times = {name: [] for name in models}
    with torch.no_grad():
        for model in models.values():
            for _ in range(3):
                model(x)
        for _ in range(runs):
            for name, model in models.items():
                start = time.perf_counter()
                model(x)
                times[name].append(1000 * (time.perf_counter() - start))
    for name, t in times.items():
        costs[name]['latency_ms'] = statistics.median(t)
    return costs
