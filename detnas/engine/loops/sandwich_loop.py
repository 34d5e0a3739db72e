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
"""
import random
from typing import Dict, List, Sequence

import torch
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


def accumulate_sandwich_gradients(model, data_batch, archs: Sequence[dict],
                                  optim_wrapper) -> Dict[str, torch.Tensor]:
    """Forwards and backwards every arch on ``data_batch``; gradients add up in ``.grad``.

    Args:
        model: the detector, possibly DDP-wrapped; its backbone has ``set_arch``.
        data_batch: one batch from the train dataloader.
        archs: the sub-nets to train.
        optim_wrapper: the runner's optimizer wrapper (its context and backward: AMP and
            gradient sync work as in ``train_step``).

    Returns:
        log variables: per sub-net total loss (``loss_largest``, ``loss_smallest``,
        ``loss_random{i}``) and ``loss`` (their mean).
    """
    module = model.module if is_model_wrapper(model) else model
    backbone = module.backbone
    names = ['largest', 'smallest'] + [f'random{i}' for i in range(len(archs) - 2)]
    log_vars: Dict[str, torch.Tensor] = {}
    total = 0.0
    try:
        for name, arch in zip(names, archs):
            backbone.set_arch(arch)
            with optim_wrapper.optim_context(model):
                data = module.data_preprocessor(data_batch, True)
                losses = model._run_forward(data, mode='loss')
            parsed, _ = module.parse_losses(losses)
            optim_wrapper.backward(parsed)
            value = parsed.detach()
            log_vars[f'loss_{name}'] = value
            total = total + value
    finally:
        backbone.set_arch(backbone.space.largest())
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
        **kwargs: ``val_begin``, ``val_interval``, ``dynamic_intervals``.
    """

    def __init__(self, runner, dataloader, max_epochs: int, num_random: int = 2,
                 seed: int = 0, **kwargs):
        super().__init__(runner, dataloader, max_epochs, **kwargs)
        if num_random < 0:
            raise ValueError(f'SandwichTrainLoop.num_random must be >= 0, got {num_random}')
        self.num_random = num_random
        self.seed = seed
        self.archs_trained = 0  # sub-nets forwarded and backwarded so far (this process)

    def run_iter(self, idx, data_batch) -> None:
        runner = self.runner
        runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data_batch)
        model = runner.model
        module = model.module if is_model_wrapper(model) else model
        archs = sandwich_archs(module.backbone, self.seed, self._iter, self.num_random)
        optim_wrapper = runner.optim_wrapper
        outputs = accumulate_sandwich_gradients(model, data_batch, archs, optim_wrapper)
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        self.archs_trained += len(archs)
        runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data_batch,
                         outputs=outputs)
        self._iter += 1
