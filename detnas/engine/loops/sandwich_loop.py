"""Supernet training with the sandwich rule inside mmengine's Runner.

Every iteration trains several sub-nets of a weight-sharing backbone on the *same* batch:
the largest, the smallest and ``num_random`` random ones (BigNAS / OFA's sandwich rule).
Each sub-net is forwarded and backwarded in turn, gradients accumulate (their sum), and the
optimizer steps once. Under DDP every backward all-reduces its own gradients, so the sum is
the same as on one process; build the wrapper with ``find_unused_parameters=True`` (a
narrow sub-net leaves parameters without gradient).

The random archs of iteration ``i`` come from ``random.Random(f'{seed}:{i}')``: the same on
every rank, and a resumed run (mmengine's ``--resume``) samples exactly what an uninterrupted
run would, with no generator state to save.

In-place distillation (``distill_weight > 0``, BigNAS's rule carried to detection): the
largest sub-net, trained first on the ground truth, is the teacher of the others on the same
batch: each smaller sub-net also fits the largest one's neck features (detached), with the
mean squared error relative to the teacher's mean square, per level.
"""
import random
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from mmdet.registry import LOOPS


def sandwich_archs(backbone, seed: int, iteration: int, num_random: int) -> List[dict]:
    """The archs trained at one iteration: ``[largest, smallest, num_random random]``.

    Args:
        backbone: the supernet backbone (``sample_sandwich(rng, n_random)``).
        seed: the run's seed.
        iteration: the global iteration index.
        num_random: number of random sub-nets.
    """
    return backbone.sample_sandwich(random.Random(f'{seed}:{iteration}'), num_random)


def feature_distillation(student: Sequence[torch.Tensor],
                         teacher: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over levels of ``mse(student, teacher) / mean(teacher ** 2)``.

    Args:
        student: the sub-net's neck outputs.
        teacher: the largest sub-net's, detached.
    """
    terms = [F.mse_loss(s, t) / t.pow(2).mean().clamp_min(1e-12)
             for s, t in zip(student, teacher)]
    return torch.stack(terms).mean()


def accumulate_sandwich_gradients(model, data_batch, archs: Sequence[dict], optim_wrapper,
                                  distill_weight: float = 0.0) -> Dict[str, torch.Tensor]:
    """Forwards and backwards every arch on ``data_batch``; gradients add up in ``.grad``.

    Args:
        model: the detector, possibly DDP-wrapped; its backbone has ``set_arch``.
        data_batch: one batch from the train dataloader.
        archs: the sub-nets to train, the largest first.
        optim_wrapper: the runner's optimizer wrapper (its context and backward: AMP and
            gradient sync work as in ``train_step``).
        distill_weight: weight of the in-place distillation loss of the smaller sub-nets
            (0: ground truth only).

    Returns:
        log variables: per sub-net total loss (``loss_largest``, ``loss_smallest``,
        ``loss_random{i}``), ``loss`` (their mean) and, with distillation,
        ``loss_distill`` (its mean over the smaller sub-nets, unweighted).
    """
    module = model.module if is_model_wrapper(model) else model
    backbone = module.backbone
    names = ['largest', 'smallest'] + [f'random{i}' for i in range(len(archs) - 2)]
    log_vars: Dict[str, torch.Tensor] = {}
    total, distilled = 0.0, []
    features: List[Sequence[torch.Tensor]] = []
    tap = getattr(module, 'neck', None) or backbone
    hook = tap.register_forward_hook(lambda m, i, out: features.append(out)) \
        if distill_weight else None
    teacher: Optional[Sequence[torch.Tensor]] = None
    try:
        for name, arch in zip(names, archs):
            backbone.set_arch(arch)
            features.clear()
            with optim_wrapper.optim_context(model):
                data = module.data_preprocessor(data_batch, True)
                losses = model._run_forward(data, mode='loss')
                if hook is not None and teacher is None:
                    teacher = [f.detach() for f in features[-1]]
                elif hook is not None:
                    kd = feature_distillation(features[-1], teacher)
                    distilled.append(kd.detach())
                    losses['loss_distill'] = distill_weight * kd
            parsed, _ = module.parse_losses(losses)
            optim_wrapper.backward(parsed)
            value = parsed.detach()
            log_vars[f'loss_{name}'] = value
            total = total + value
    finally:
        if hook is not None:
            hook.remove()
        backbone.set_arch(backbone.space.largest())
    if distilled:
        log_vars['loss_distill'] = torch.stack(distilled).mean()
    log_vars['loss'] = total / len(archs)
    return log_vars


@LOOPS.register_module()
class SandwichTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` whose iteration trains the sandwich of sub-nets.

    Args:
        runner: the runner.
        dataloader: train dataloader (config or object).
        max_epochs: epochs to train.
        num_random: random sub-nets per iteration (besides the largest and smallest).
        seed: seed of the arch sampling (``tools/search.py --seed``).
        distill_weight: in-place distillation of the smaller sub-nets from the largest
            (see the module docstring; 0: off).
        **kwargs: ``val_begin``, ``val_interval``, ``dynamic_intervals``.
    """

    def __init__(self, runner, dataloader, max_epochs: int, num_random: int = 2,
                 seed: int = 0, distill_weight: float = 0.0, **kwargs):
        super().__init__(runner, dataloader, max_epochs, **kwargs)
        if num_random < 0:
            raise ValueError(f'SandwichTrainLoop.num_random must be >= 0, got {num_random}')
        self.num_random = num_random
        self.seed = seed
        self.distill_weight = float(distill_weight)
        self.archs_trained = 0  # sub-nets forwarded and backwarded so far (this process)

    def run_iter(self, idx, data_batch) -> None:
        runner = self.runner
        runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data_batch)
        model = runner.model
        module = model.module if is_model_wrapper(model) else model
        archs = sandwich_archs(module.backbone, self.seed, self._iter, self.num_random)
        optim_wrapper = runner.optim_wrapper
        outputs = accumulate_sandwich_gradients(model, data_batch, archs, optim_wrapper,
                                                self.distill_weight)
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        self.archs_trained += len(archs)
        runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data_batch,
                         outputs=outputs)
        self._iter += 1
