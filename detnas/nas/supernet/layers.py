"""Elastic layers of a weight-sharing supernet: one tensor holds the largest layer, a sub-net
uses a slice of it.

* :class:`ElasticConv2d` reads as many input channels as its input has (the first ones of
  its weight), writes the first ``active_out_channels`` (all when None) and uses the centre
  ``active_kernel_size`` crop of its kernel, with ``active_dilation`` (None: its own) and
  ``active_groups`` groups (the block diagonal of its dense weight, :func:`block_diagonal`);
  a depthwise one (``depthwise=True``) has as many groups as its input has channels.
* :class:`ElasticBatchNorm2d` normalises the first channels of its parameters and running
  statistics; in training it uses the batch statistics of the active sub-net (and updates
  only the running-stat slice in use); ``momentum=None`` gives a cumulative average, which is
  what BN recalibration uses.
* :class:`ElasticConvModule`: conv + BN + activation with :class:`~mmcv.cnn.ConvModule`'s
  names (``conv``, ``bn``), so state dicts match mmdet's.

Every elastic layer exports its active slice as the tensors of the plain layer it stands
for (``static_state(in_channels)``, as mmrazor's ``to_static_op``): the export of a sub-net
asks its layers, it never re-derives the slicing.
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from torch import Tensor, nn

from detnas.utils.errors import DetnasInputError

StateDict = Dict[str, Tensor]
NORM_TYPES = ('BN', 'BN2d')


def check_batch_norm(norm_cfg: Optional[dict], where: str) -> None:
    """Raises :class:`DetnasInputError` unless ``norm_cfg`` is BatchNorm (elastic layers slice
    BN statistics; other norms cannot be sliced per sub-net).

    Args:
        norm_cfg: a norm config (None means the default BN).
        where: the config key for the message (``'model.backbone.norm_cfg'``).
    """
    norm = (norm_cfg or {}).get('type', 'BN')
    if norm not in NORM_TYPES:
        raise DetnasInputError(f"{where}.type is {norm!r}; the supernet's elastic layers "
                               "support BatchNorm only (norm_cfg=dict(type='BN'))")


def block_diagonal(weight: Tensor, groups: int) -> Tensor:
    """The grouped-conv weight ``(out, in / groups, kh, kw)`` made of the ``groups`` diagonal
    blocks of a dense weight ``(out, in, kh, kw)``: group ``g`` keeps what output channels
    ``g * out / groups ...`` read from input channels ``g * in / groups ...``.

    Args:
        weight: a dense conv weight.
        groups: the group count (divides both channel counts).
    """
    if groups == 1:
        return weight
    o, c, kh, kw = weight.shape
    if o % groups or c % groups:
        raise ValueError(f'groups={groups} must divide the {c} input and {o} output channels')
    idx = torch.arange(groups, device=weight.device)
    blocks = weight.reshape(groups, o // groups, groups, c // groups, kh, kw)[idx, :, idx]
    return blocks.reshape(o, c // groups, kh, kw)


def centre_crop(weight: Tensor, kernel: int) -> Tensor:
    """The centre ``kernel x kernel`` window of a conv weight (itself when it is that size).

    Args:
        weight: ``(out, in, k, k)`` with odd ``k >= kernel``.
        kernel: the odd kernel size to keep.
    """
    big = weight.shape[-1]
    if kernel == big:
        return weight
    off = (big - kernel) // 2
    return weight[:, :, off:off + kernel, off:off + kernel]


def batch_norm(channels: int, norm_cfg: dict, where: str = 'norm_cfg'
               ) -> 'ElasticBatchNorm2d':
    """An :class:`ElasticBatchNorm2d` from a BN config (``eps``, ``momentum``,
    ``requires_grad``).

    Args:
        channels: largest channels.
        norm_cfg: ``dict(type='BN', ...)``.
        where: the config key for the message of a non-BN config.
    """
    check_batch_norm(norm_cfg, where)
    cfg = {k: v for k, v in dict(norm_cfg).items() if k != 'type'}
    requires_grad = cfg.pop('requires_grad', True)
    bn = ElasticBatchNorm2d(channels, **cfg)
    for p in bn.parameters():
        p.requires_grad = requires_grad
    return bn


class ElasticConv2d(nn.Conv2d):
    """A conv whose active input/output channels and kernel are slices of its weight.

    Args:
        in_channels: largest input channels.
        out_channels: largest output channels (ignored for a depthwise conv: = in).
        kernel_size: largest (odd) kernel size.
        stride: stride.
        dilation: dilation.
        depthwise: one group per channel.
        bias: whether the conv has a bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 stride: int = 1, dilation: int = 1, depthwise: bool = False,
                 bias: bool = False):
        if kernel_size % 2 == 0:
            raise ValueError(f'ElasticConv2d needs an odd kernel, got {kernel_size}')
        super().__init__(in_channels, in_channels if depthwise else out_channels, kernel_size,
                         stride, dilation * (kernel_size - 1) // 2, dilation,
                         in_channels if depthwise else 1, bias)
        self.depthwise = depthwise
        self.active_out_channels: Optional[int] = None
        self.active_kernel_size: int = kernel_size
        self.active_dilation: Optional[int] = None
        self.active_groups: int = 1

    def active_weight(self, in_channels: int) -> Tensor:
        """The weight slice used for an input with ``in_channels`` channels."""
        out = in_channels if self.depthwise else (self.active_out_channels
                                                  or self.out_channels)
        w = self.weight[:out] if self.depthwise else self.weight[:out, :in_channels]
        w = centre_crop(w, self.active_kernel_size)
        return w if self.depthwise else block_diagonal(w, self.active_groups)

    def static_state(self, in_channels: int) -> StateDict:
        """The tensors of the plain conv the active slice is (``weight``, ``bias``).

        Args:
            in_channels: channels of the input the sub-net feeds it.
        """
        w = self.active_weight(in_channels)
        out = dict(weight=w.detach().clone())
        if self.bias is not None:
            out['bias'] = self.bias[:w.shape[0]].detach().clone()
        return out

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        if c > self.in_channels:
            raise ValueError(f'ElasticConv2d: input has {c} channels, the layer holds at most '
                             f'{self.in_channels}')
        w = self.active_weight(c)
        bias = self.bias[:w.shape[0]] if self.bias is not None else None
        k = self.active_kernel_size
        d = self.active_dilation or self.dilation[0]
        return F.conv2d(x, w, bias, self.stride, d * (k - 1) // 2, d,
                        c if self.depthwise else self.active_groups)


class ElasticBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over the first ``C`` channels of its tensors (``C`` from the input)."""

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                      else self.momentum)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            x, self.running_mean[:c] if track and self.running_mean is not None else None,
            self.running_var[:c] if track and self.running_var is not None else None,
            self.weight[:c] if self.affine else None, self.bias[:c] if self.affine else None,
            use_batch, factor, self.eps)

    def static_state(self, channels: int) -> StateDict:
        """The tensors of a plain BN on the first ``channels`` channels.

        Args:
            channels: channels of the sub-net's feature it normalises.
        """
        return {k: (v.clone() if v.dim() == 0 else v[:channels].clone())
                for k, v in self.state_dict().items()}


def prefixed(prefix: str, state: StateDict) -> StateDict:
    """``state`` with every key under ``prefix.``."""
    return {f'{prefix}.{k}': v for k, v in state.items()}


class ElasticConvModule(nn.Module):
    """Elastic conv, elastic BN and an optional activation (``ConvModule``'s names).

    Args:
        in_channels: largest input channels.
        out_channels: largest output channels.
        kernel_size: largest kernel size.
        stride: stride.
        dilation: dilation.
        depthwise: depthwise conv.
        norm_cfg: ``dict(type='BN', [eps, momentum, requires_grad])``.
        act_cfg: activation config or None.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 stride: int = 1, dilation: int = 1, depthwise: bool = False,
                 norm_cfg: dict = dict(type='BN'), act_cfg: Optional[dict] = None):
        super().__init__()
        self.conv = ElasticConv2d(in_channels, out_channels, kernel_size, stride, dilation,
                                  depthwise)
        self.bn = batch_norm(self.conv.out_channels, norm_cfg)
        self.activate = build_activation_layer(act_cfg) if act_cfg else None

    def static_state(self, in_channels: int) -> StateDict:
        """The ``conv.*`` and ``bn.*`` tensors of the plain ``ConvModule`` of the active
        slice, for an input with ``in_channels`` channels."""
        conv = self.conv.static_state(in_channels)
        return {**prefixed('conv', conv),
                **prefixed('bn', self.bn.static_state(conv['weight'].shape[0]))}

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return self.activate(x) if self.activate is not None else x
