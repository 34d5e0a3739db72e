"""Feature distillation of a lossy mapping: a short training of the mapped target to
reproduce the seed's stage outputs on unlabeled images.

The least-squares refit (:mod:`.refit`) re-solves one pointwise conv at a time; what a
dropped block or a smaller expansion removed is spread over depthwise convs, BN statistics
and several layers, which a per-conv fit cannot restore. Distillation trains every target
parameter at once so that each stage output matches the seed's on the channels the mapping
kept (the stage's channel map), with the loss of each stage normalised by the seed
feature's energy. No labels and no ImageNet images: a few hundred training images of the
detection data set are enough, and where the mapping was exact the loss starts (and stays)
at zero.

    >>> result = map_weights(seed, target_cfg)
    >>> stats = distill_mapping(result, seed_backbone(seed), build_backbone(target_cfg),
    ...                         images)  # (N, 3, H, W) normalised like the detector input
"""
import copy
import time
from typing import Dict, List, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .errors import MappingError
from .spec import spec_from_module


def stage_channel_maps(target: nn.Module, channel_maps: Dict[str, dict]
                       ) -> Dict[str, Tuple[Tensor, Tensor]]:
    """For every stage module ``layer{s}`` of the target whose output channels come from
    the seed: (target channels, the seed channels of its ``layer{s}`` output they copy).

    Args:
        target: the target backbone.
        channel_maps: ``MappingReport.channel_maps`` of a within-family mapping.
    """
    spec = spec_from_module(target)
    out = {}
    for stage, space in spec.stage_output_spaces().items():
        writers = [c for c in spec.convs if c.out_space == space and c.key in channel_maps
                   and not channel_maps[c.key].get('added_block')]
        if not writers:
            continue
        index = torch.as_tensor(channel_maps[writers[-1].key]['out_index'], dtype=torch.long)
        kept = (index >= 0).nonzero().flatten()
        if len(kept):
            out[f'layer{stage}'] = (kept, index[kept])
    return out


class _StageOutputs:
    """Collects the outputs of named sub-modules during a forward pass."""

    def __init__(self, model: nn.Module, names: List[str]):
        self.values: Dict[str, Tensor] = {}
        self.handles = [model.get_submodule(n).register_forward_hook(self._hook(n))
                        for n in names]

    def _hook(self, name):
        def hook(_, __, output):
            self.values[name] = output
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def _train_with_frozen_bn(model: nn.Module) -> None:
    """Training mode except BN layers, which keep normalising with their running statistics
    (the seed's, where the mapping copied them): the target learns the seed's eval-mode
    function, not one under batch statistics."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _loss(t_out, s_out, stages) -> Tensor:
    terms = []
    for name, (t_ch, s_ch) in stages.items():
        s = s_out[name][:, s_ch]
        terms.append(((t_out[name][:, t_ch] - s) ** 2).mean() / (s ** 2).mean().clamp(min=1e-12))
    return torch.stack(terms).mean()


@torch.no_grad()
def _relative_error(seed, target, stages, images, batch) -> float:
    """Mean over stages of ||target - seed|| / ||seed|| on ``images`` (eval mode)."""
    seed.eval()
    target.eval()
    s_hooks, t_hooks = _StageOutputs(seed, list(stages)), _StageOutputs(target, list(stages))
    num = {n: 0.0 for n in stages}
    den = {n: 0.0 for n in stages}
    try:
        for i in range(0, len(images), batch):
            x = images[i:i + batch]
            seed(x)
            target(x)
            for name, (t_ch, s_ch) in stages.items():
                s = s_hooks.values[name][:, s_ch]
                num[name] += ((t_hooks.values[name][:, t_ch] - s) ** 2).sum().item()
                den[name] += (s ** 2).sum().item()
    finally:
        s_hooks.remove()
        t_hooks.remove()
    return sum((num[n] / max(den[n], 1e-12)) ** 0.5 for n in stages) / max(len(stages), 1)


def distill_stages(seed: nn.Module, target: nn.Module, channel_maps: Dict[str, dict],
                   images: Tensor, steps: int = 200, lr: float = 1e-4, batch: int = 8,
                   heldout_fraction: float = 0.2, seed_rng: int = 0,
                   log_every: int = 20) -> Dict[str, float]:
    """Trains ``target`` in place to reproduce the seed's stage outputs.

    Args:
        seed: the seed backbone (kept in eval mode, not trained).
        target: the mapped target backbone (trained in place; BN layers keep their
            running statistics, their affine parameters train).
        channel_maps: ``MappingReport.channel_maps``.
        images: (N, 3, H, W) unlabeled images normalised like the backbone's input.
        steps: optimiser steps (Adam).
        lr: learning rate; about 1e-4 for pretrained weights (on the ImageNet MobileNetV2,
            1e-3 more than doubled the error in the first steps).
        batch: images per step (random, with horizontal flips).
        heldout_fraction: share of ``images`` kept out of training to measure the error.
        seed_rng: seed of the batch sampling.
        log_every: log the training loss every this many steps (0: never).

    Returns:
        ``{'steps', 'images', 'heldout_images', 'err_before', 'err_after', 'reverted',
        'seconds'}``: the mean relative L2 error of the stage outputs on the held-out images
        before and after; when the error grew, the target is given back as it was
        (``reverted``).
    """
    if images.ndim != 4 or images.shape[1] != 3 or len(images) < 2:
        raise MappingError(f'distillation images must be a (N >= 2, 3, H, W) tensor; got '
                           f'shape {tuple(images.shape)}')
    if steps < 0 or lr <= 0 or batch < 1:
        raise MappingError(f'distillation needs steps >= 0, lr > 0 and batch >= 1; got '
                           f'steps={steps}, lr={lr}, batch={batch}')
    stages = stage_channel_maps(target, channel_maps)
    if not stages:
        raise MappingError('distillation: no target stage output has seed channels to '
                           'match (is this a cross-family mapping?)')
    n_held = max(1, int(round(len(images) * heldout_fraction)))
    held, train = images[:n_held], images[n_held:]
    start = time.perf_counter()
    before = _relative_error(seed, target, stages, held, batch)
    initial = {k: v.detach().clone() for k, v in target.state_dict().items()}
    gen = torch.Generator().manual_seed(seed_rng)
    opt = torch.optim.Adam([p for p in target.parameters() if p.requires_grad], lr=lr)
    s_hooks, t_hooks = _StageOutputs(seed, list(stages)), _StageOutputs(target, list(stages))
    try:
        for step in range(1, steps + 1):
            pick = torch.randint(len(train), (min(batch, len(train)), ), generator=gen)
            x = train[pick]
            flip = torch.rand(len(x), generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            seed.eval()
            _train_with_frozen_bn(target)
            with torch.no_grad():
                seed(x)
                s_out = dict(s_hooks.values)
            target(x)
            loss = _loss(t_hooks.values, s_out, stages)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if log_every and (step % log_every == 0 or step == steps):
                print_log(f'distill step {step}/{steps}: loss {loss.item():.4f} '
                          f'({time.perf_counter() - start:.0f} s)', logger='current')
    finally:
        s_hooks.remove()
        t_hooks.remove()
    after = _relative_error(seed, target, stages, held, batch)
    reverted = after > before  # never hand back a worse fit than the mapping's
    if reverted:
        target.load_state_dict(initial)
    return dict(steps=steps, images=int(len(train)), heldout_images=int(n_held),
                err_before=before, err_after=after, reverted=reverted,
                seconds=round(time.perf_counter() - start, 1))


def distill_mapping(result, seed: nn.Module, target: nn.Module, images: Tensor,
                    **kwargs) -> Dict[str, float]:
    """Applies :func:`distill_stages` to a :class:`~.api.MappingResult` in place: the target
    module is loaded with the mapped tensors, distilled, and every tensor goes back into
    ``result.state_dict``; ``report.meta['distill']`` holds the statistics (the records keep
    the rule that mapped each tensor: distillation changes all of them).

    Args:
        result: a within-family mapping result (it carries ``report.channel_maps``).
        seed: the seed backbone module with the seed's weights loaded.
        target: a module of the target architecture (its weights are overwritten).
        images: unlabeled images, see :func:`distill_stages`.
        **kwargs: passed to :func:`distill_stages`.
    """
    if not result.report.channel_maps:
        raise MappingError('distillation needs a within-family mapping (its report has no '
                           'channel_maps)')
    target.load_state_dict(result.state_dict)
    seed = copy.deepcopy(seed)  # the hooks and eval mode stay off the caller's module
    stats = distill_stages(seed, target, result.report.channel_maps, images, **kwargs)
    result.state_dict = {k: v.detach().clone() for k, v in target.state_dict().items()}
    result.report.meta['distill'] = stats
    return stats
