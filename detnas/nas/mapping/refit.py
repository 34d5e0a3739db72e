"""Data-aware refit of a lossy mapping: least-squares reconstruction of pointwise convs.

Narrowing, a smaller expansion or a dropped block remove seed channels or layers, and the
convs downstream then read inputs their weights were not trained for. Given a few unlabeled
images, each pointwise (1x1, ungrouped) target conv is re-solved so that its output matches
the output of the seed conv it was mapped from, on the *target's* own input (ThiNet / channel
pruning style reconstruction). Convs are refitted in forward order, so every conv also
compensates the errors left upstream. A ridge term pulls the solution towards the mapped
weights: where the mapping was exact the refit leaves it unchanged.

A stage the target keeps shallower loses the seed's last blocks. When the kept last block's
output is affine in its closing conv (MobileNetV2's linear bottleneck: ``x + BN(W h)``), that
conv is fitted to the seed's *stage* output instead of its own seed conv's, so the kept
block also stands in for the dropped ones; its BN then takes the statistics of the new conv
output with gamma and beta changed so that the eval-mode function stays the fitted one (and
training-mode BN, which normalises with batch statistics, starts close to it).

    >>> result = map_weights(seed, target_cfg)
    >>> stats = refit_pointwise(seed_backbone, target_backbone, result.report.channel_maps,
    ...                         images)  # (N, 3, H, W) normalised like the detector input
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .errors import MappingError
from .within_family import NORM_PARAMS


class _Stop(Exception):
    """Ends a forward pass once the conv of interest has been seen."""


def _positions(n: int, hw: int, per_image: int, seed: int) -> Tensor:
    """Flat indices of ``per_image`` random pixels in each of ``n`` maps of ``hw`` pixels,
    image-major; the same for a given ``seed``, so seed and target rows line up."""
    gen = torch.Generator().manual_seed(seed)
    k = min(per_image, hw)
    idx = torch.stack([torch.randperm(hw, generator=gen)[:k] for _ in range(n)])
    return idx + torch.arange(n)[:, None] * hw


def _pointwise(module: nn.Module, key: str) -> Optional[nn.Conv2d]:
    try:
        conv = module.get_submodule(key)
    except AttributeError:
        return None
    if (isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1) and conv.groups == 1
            and conv.stride == (1, 1)):
        return conv
    return None


@torch.no_grad()
def _sampled_rows(model: nn.Module, convs: Dict[str, nn.Module], images: Tensor,
                  batch: int, what: str, pixels: int, seeds: Dict[str, int]
                  ) -> Tuple[Dict[str, Tensor], Dict[str, int]]:
    """Rows (pixels x channels, float64) of the input (``what='input'``) or output of each
    conv in ``convs``, at :func:`_positions` pixels, and each map's pixel count; one pass
    over ``images``, which stops early when a single conv is asked for."""
    chunks: Dict[str, List[Tensor]] = {k: [] for k in convs}
    stop_early = len(convs) == 1

    def make_hook(key):
        def hook(_, inputs, output):
            x = inputs[0] if what == 'input' else output
            chunks[key].append(x.permute(0, 2, 3, 1).reshape(len(x), -1, x.shape[1]))
            if stop_early:
                raise _Stop
        return hook

    handles = [conv.register_forward_hook(make_hook(k)) for k, conv in convs.items()]
    try:
        for i in range(0, len(images), batch):
            try:
                model(images[i:i + batch])
            except _Stop:
                pass
    finally:
        for h in handles:
            h.remove()
    rows, sizes = {}, {}
    for key, parts in chunks.items():
        flat = torch.cat(parts)  # (N, H*W, C)
        n, hw, c = flat.shape
        pix = _positions(n, hw, pixels, seeds[key])
        rows[key], sizes[key] = flat.reshape(-1, c)[pix.flatten()].double(), hw
    return rows, sizes


def _ridge_solve(x: Tensor, y: Tensor, w0: Tensor, ridge: float) -> Tensor:
    """argmin_W |x W^T - y|^2 + lam |W - w0|^2 with lam = ridge * mean input energy."""
    gram = x.T @ x
    lam = ridge * gram.diagonal().mean().clamp(min=1e-12)
    eye = torch.eye(gram.shape[0], dtype=gram.dtype)
    return torch.linalg.solve(gram + lam * eye, x.T @ y + lam * w0.T).T


def _choose_ridge(x: Tensor, y: Tensor, w0: Tensor, ridges: Sequence[float]) -> float:
    """The ridge with the lowest error on the last fifth of the rows, i.e. on held-out
    images (rows are image-major; deep layers see few pixels per image, so a fixed ridge
    overfits there, and pixels of one image are too alike to validate each other)."""
    if len(ridges) == 1:
        return ridges[0]
    cut = len(x) - len(x) // 5
    fit, held = slice(0, cut), slice(cut, None)
    errors = [(x[held] @ _ridge_solve(x[fit], y[fit], w0, r).T - y[held]).norm().item()
              for r in ridges]
    return ridges[min(range(len(ridges)), key=errors.__getitem__)]


def _bn_affine(bn: nn.Module) -> Tuple[Tensor, Tensor]:
    """(a, b), float64, with ``bn(z) == a * z + b`` per channel in eval mode."""
    a = bn.weight.double() / (bn.running_var.double() + bn.eps).sqrt()
    return a, bn.bias.double() - a * bn.running_mean.double()


@torch.no_grad()
def _restat_bn(bn: nn.Module, rows: Tensor, z: Tensor, a: Tensor, b: Tensor) -> None:
    """Gives BN channels ``rows`` the mean/variance of ``z`` (pixels x len(rows)) as running
    statistics, with gamma/beta chosen so that the eval-mode affine map stays ``a z + b``."""
    mean, var = z.mean(0), z.var(0, unbiased=False)
    dtype = bn.weight.dtype
    bn.running_mean[rows] = mean.to(dtype)
    bn.running_var[rows] = var.to(dtype)
    bn.weight[rows] = (a * (var + bn.eps).sqrt()).to(dtype)
    bn.bias[rows] = (b + a * mean).to(dtype)


def _stage_end_target(y_conv: Tensor, y_stage: Tensor, shortcut, a: Tensor, b: Tensor
                      ) -> Tensor:
    """The closing conv output that makes ``shortcut + a z + b`` equal the seed stage output;
    channels whose BN scale is near zero keep their own seed conv's output as target."""
    z = (y_stage - shortcut - b) / a
    usable = a.abs() > 1e-3 * a.abs().max().clamp(min=1e-12)
    return torch.where(usable, z, y_conv)


def refit_pointwise(seed: nn.Module, target: nn.Module, channel_maps: Dict[str, dict],
                    images: Tensor, pixels_per_image: int = 256,
                    ridges: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
                    batch: int = 8, seed_rng: int = 0,
                    absorb_dropped: bool = True) -> Dict[str, dict]:
    """Refits the target's pointwise convs to reproduce their seed convs' outputs.

    Args:
        seed: the seed backbone (eval mode is set here).
        target: the mapped target backbone; its 1x1 conv weights are replaced in place.
        channel_maps: target conv key -> ``{'source': seed conv key, 'out_index': [seed
            channel per target output channel, -1 for a new one], 'added_block': bool}``
            (``MappingReport.channel_maps``); convs of blocks added beyond the seed's depth
            have no seed counterpart to reproduce and are skipped.
        images: (N, 3, H, W) calibration images, normalised like the backbone's input.
        pixels_per_image: random pixels per image and layer used as equations.
        ridges: candidate strengths of the pull towards the mapped weights, relative to
            the mean input energy; each conv uses the one that predicts a held-out fifth of
            its equations best.
        batch: images per forward pass.
        seed_rng: seed of the pixel sampling (the refit is deterministic given it).
        absorb_dropped: fit the closing conv of a block marked ``stage_end`` in its channel
            map (the last block of a stage the seed had deeper) to the seed stage output,
            and re-derive its BN (see the module docstring); False fits it like any other.

    Returns:
        per refitted conv: ``{'err_before', 'err_after'}``, the relative L2 error of its
        output against what it should reproduce (its seed conv's output; for an absorbing
        conv the output that reproduces the seed stage) on the sampled pixels, the
        ``ridge`` chosen, and for an absorbing conv ``'absorbed'``: the dropped seed blocks.
    """
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise MappingError(f'calibration images must be a non-empty (N, 3, H, W) tensor; got '
                           f'shape {tuple(images.shape)}')
    seed.eval()
    target.eval()
    jobs = {}  # target conv key -> (target conv, seed conv key, kept rows, seed channels)
    for t_key, info in channel_maps.items():
        t_conv, s_conv = _pointwise(target, t_key), _pointwise(seed, info['source'])
        out_index = torch.as_tensor(info['out_index'], dtype=torch.long)
        rows = (out_index >= 0).nonzero().flatten()
        if t_conv is not None and s_conv is not None and not info.get('added_block') \
                and len(rows):
            jobs[t_key] = (t_conv, s_conv, rows, out_index[rows])
    ends = {k: channel_maps[k]['stage_end'] for k in jobs
            if absorb_dropped and channel_maps[k].get('stage_end')}
    seeds = {k: seed_rng * 100003 + i for i, k in enumerate(jobs)}
    seeds.update({k + '@stage': seeds[k] for k in ends})  # same pixels as the conv's rows
    seed_modules = {k: job[1] for k, job in jobs.items()}
    seed_modules.update({k + '@stage': seed.get_submodule(end['seed_output'])
                         for k, end in ends.items()})
    seed_rows, seed_pixels = _sampled_rows(seed, seed_modules, images, batch, 'output',
                                           pixels_per_image, seeds)
    stats = {}
    for t_key, (t_conv, _, rows, seed_channels) in jobs.items():
        x, pixels = _sampled_rows(target, {t_key: t_conv}, images, batch, 'input',
                                  pixels_per_image, seeds)
        x, y = x[t_key], seed_rows[t_key][:, seed_channels]
        if pixels[t_key] != seed_pixels[t_key]:
            raise MappingError(f'refit: {t_key!r} sees another feature-map size than its '
                               f'seed conv {channel_maps[t_key]["source"]!r}; the target '
                               "must keep the seed's strides")
        end = ends.get(t_key)
        if end:
            bn = target.get_submodule(end['norm'])
            a, b = (v[rows] for v in _bn_affine(bn))
            shortcut = 0.0
            if end['residual']:
                block = {t_key: target.get_submodule(end['block'])}
                shortcut = _sampled_rows(target, block, images, batch, 'input',
                                         pixels_per_image, seeds)[0][t_key][:, rows]
            y = _stage_end_target(y, seed_rows[t_key + '@stage'][:, seed_channels],
                                  shortcut, a, b)
        w0 = t_conv.weight[rows, :, 0, 0].double()
        lam = _choose_ridge(x, y, w0, ridges)
        w = _ridge_solve(x, y, w0, lam)
        norm = y.norm().clamp(min=1e-12)
        stats[t_key] = dict(err_before=((x @ w0.T - y).norm() / norm).item(),
                            err_after=((x @ w.T - y).norm() / norm).item(), ridge=lam)
        with torch.no_grad():
            t_conv.weight[rows, :, 0, 0] = w.to(t_conv.weight.dtype)
        if end:
            _restat_bn(bn, rows, x @ w.T, a, b)
            stats[t_key]['absorbed'] = list(end['dropped'])
    return stats


def refit_mapping(result, seed: nn.Module, target: nn.Module, images: Tensor,
                  **kwargs) -> Dict[str, dict]:
    """Applies :func:`refit_pointwise` to a :class:`~.api.MappingResult` in place: the
    target module is loaded with the mapped tensors, refitted, and the refitted weights (and
    the re-derived BNs of absorbing convs) go back into ``result.state_dict``; their report
    records gain the ``'refit'`` rule and ``report.meta['refit']`` holds the mean relative
    errors before and after and, per absorbing conv, the seed blocks it stands in for.

    Args:
        result: a within-family mapping result (it carries ``report.channel_maps``).
        seed: the seed backbone module with the seed's weights loaded.
        target: a module of the target architecture (its weights are overwritten).
        images: calibration images, see :func:`refit_pointwise`.
        **kwargs: passed to :func:`refit_pointwise`.

    Returns:
        the per-conv statistics of :func:`refit_pointwise`.
    """
    if not result.report.channel_maps:
        raise MappingError('refit needs a within-family mapping (its report has no '
                           'channel_maps); cross-family results cannot be refitted')
    target.load_state_dict(result.state_dict)
    stats = refit_pointwise(seed, target, result.report.channel_maps, images, **kwargs)
    changed = {key + '.weight' for key in stats}
    absorbed = {key: s['absorbed'] for key, s in stats.items() if 'absorbed' in s}
    for key in absorbed:  # their BN was re-derived too
        norm = result.report.channel_maps[key]['stage_end']['norm']
        changed.update(f'{norm}.{p}' for p in NORM_PARAMS)
    refitted = target.state_dict()
    for key in changed:
        result.state_dict[key] = refitted[key].detach().clone()
    for record in result.report.records:
        if record.key in changed:
            record.rule += '+refit'
    n = max(len(stats), 1)
    result.report.meta['refit'] = dict(
        convs=len(stats), images=int(len(images)),
        mean_err_before=sum(s['err_before'] for s in stats.values()) / n,
        mean_err_after=sum(s['err_after'] for s in stats.values()) / n, absorbed=absorbed)
    return stats


def calibration_images(image_dir: str, num: int = 64, size: Tuple[int, int] = (320, 320),
                       mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)
                       ) -> Tensor:
    """The first ``num`` images of a folder (sorted names), resized and normalised like an
    mmdet detector's input (RGB, ImageNet mean/std).

    Args:
        image_dir: folder of images (e.g. the detection training images; labels unused).
        num: how many.
        size: (H, W) after resizing.
        mean: per-channel mean (0-255 scale, RGB).
        std: per-channel std.
    """
    import os

    import numpy as np
    from PIL import Image
    if not os.path.isdir(image_dir):
        raise MappingError(f'calibration image folder {image_dir!r} does not exist')
    names = sorted(n for n in os.listdir(image_dir)
                   if n.lower().endswith(('.jpg', '.jpeg', '.png', '.bmp')))[:num]
    if not names:
        raise MappingError(f'no images (.jpg/.png/.bmp) in {image_dir!r} to calibrate on')
    m, s = np.array(mean, np.float32), np.array(std, np.float32)
    batch = []
    for name in names:
        img = Image.open(os.path.join(image_dir, name)).convert('RGB')
        arr = np.asarray(img.resize((size[1], size[0]), Image.BILINEAR), np.float32)
        batch.append(torch.from_numpy(((arr - m) / s).transpose(2, 0, 1).copy()))
    return torch.stack(batch)


def seed_backbone(seed) -> nn.Module:
    """The seed as a backbone module (eval mode), the reference the refit reproduces: the
    standard seed of its family (``SpecFamily.seed_config``: e.g. the ImageNet
    MobileNetV2, an mmdet ResNet-18/34/50/101/152).

    Args:
        seed: anything :func:`~.api.map_weights` accepts as a seed.
    """
    from .api import resolve_seed_state
    from .spec import build_backbone, infer_spec, spec_family
    sd, _, source = resolve_seed_state(seed, None)
    spec = infer_spec(sd)
    cfg = spec_family(spec).seed_config(spec)
    if cfg is None:
        raise MappingError(f'seed {source}: a {spec.family} with stage depths '
                           f'{[len(s) for s in spec.stages()]} is not a standard seed of its '
                           'family; build the seed module yourself and call refit_mapping')
    module = build_backbone(cfg)
    try:
        module.load_state_dict(sd)
    except RuntimeError as e:
        raise MappingError(f'seed {source} does not load into {cfg}: {str(e)[:300]}; build '
                           'the seed module yourself and call refit_mapping') from e
    return module.eval()
