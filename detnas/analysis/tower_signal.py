"""How much signal reaches a dense head's prediction layers: the RMS of the head's input
(an FPN level) and of its classification and regression towers' outputs.

A sequential head (:class:`~detnas.models.dense_heads.SeqTowerMixin`) runs its towers in
sequence (``forward_towers``), so its second tower's output is two towers deep; with mmdet's
small-std initialisation and no normalisation (RetinaNet) that shrinks the signal the
prediction layer sees.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from torch import Tensor, nn

from detnas.utils.errors import DetnasInputError


def rms(x: Tensor) -> float:
    """Root mean square of a tensor."""
    return float(x.float().square().mean().sqrt())


def tower_outputs(head: nn.Module, x: Tensor) -> Tuple[Tensor, Tensor]:
    """The classification and regression towers' outputs of a dense head for one input level
    (in sequence where the head runs them so: ``forward_towers``).

    Args:
        head: a dense head with ``cls_convs`` and ``reg_convs``.
        x: one FPN level, ``(N, C, H, W)``.
    """
    if hasattr(head, 'forward_towers'):
        return head.forward_towers(x)
    outputs = []
    for tower in (head.cls_convs, head.reg_convs):
        y = x
        for layer in tower:
            y = layer(y)
        outputs.append(y)
    return tuple(outputs)


def tower_signal(model: nn.Module, batches: Sequence[dict]) -> Dict[str, float]:
    """Mean over levels and images of the RMS of the head input and of each tower's output.

    Args:
        model: a detector with ``neck`` and a ``bbox_head`` that has ``cls_convs`` and
            ``reg_convs``.
        batches: collated batches (``data_preprocessor`` input format).
    """
    sums = dict(input=0.0, cls_tower=0.0, reg_tower=0.0)
    count = 0
    with torch.no_grad():
        for batch in batches:
            feats = model.extract_feat(model.data_preprocessor(batch, False)['inputs'])
            for x in feats:
                cls_feat, reg_feat = tower_outputs(model.bbox_head, x)
                sums['input'] += rms(x)
                sums['cls_tower'] += rms(cls_feat)
                sums['reg_tower'] += rms(reg_feat)
                count += 1
    out = {k: v / count for k, v in sums.items()}
    out['cls_over_input'] = out['cls_tower'] / out['input']
    out['reg_over_input'] = out['reg_tower'] / out['input']
    return out


def build_towered_detector(config: str, checkpoint: Optional[str] = None,
                           cfg_options: Optional[dict] = None) -> Tuple[Config, nn.Module]:
    """The detector of ``config`` in eval mode, initialised as training would start, or from
    ``checkpoint``.

    Args:
        config: a detector config whose head has ``cls_convs`` / ``reg_convs`` towers.
        checkpoint: a trained checkpoint (None: the config's initialisation).
        cfg_options: config overrides.

    Raises:
        DetnasInputError: the head has no towers, or the checkpoint does not fit.
    """
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from detnas.utils.checkpoint import load_checked_state_dict
    from detnas.utils.config import load_config
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    head = getattr(model, 'bbox_head', None)
    if not (hasattr(head, 'cls_convs') and hasattr(head, 'reg_convs')):
        raise DetnasInputError(f'{config}: model.bbox_head ({type(head).__name__}) has no '
                               'cls_convs / reg_convs towers')
    if checkpoint:
        model.load_state_dict(load_checked_state_dict(model, checkpoint, config))
    else:
        model.init_weights()
    return cfg, model.eval()


def tower_table(rows: List[dict]) -> str:
    """A markdown table of :func:`tower_signal` rows (with ``config``, ``checkpoint``,
    ``head`` and ``order``)."""
    lines = ['| config | weights | head | order | input RMS | cls tower / input | '
             'reg tower / input |', '|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {osp.basename(r['config'])} | {r['checkpoint']} | {r['head']} | "
                     f"{r['order']} | {r['input']:.3g} | {r['cls_over_input']:.3g} | "
                     f"{r['reg_over_input']:.3g} |")
    return '\n'.join(lines) + '\n'
