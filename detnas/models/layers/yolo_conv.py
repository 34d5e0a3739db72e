"""Conv + BN + activation whose BN folds into the convolution at deploy time."""
from typing import Optional

import torch
from mmcv.cnn import ConvModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.registry import MODELS

# YOLOv7's BatchNorm settings (eps 1e-3, momentum 0.03) and SiLU activation.
YOLOV7_NORM_CFG = dict(type='BN', momentum=0.03, eps=0.001)
YOLOV7_ACT_CFG = dict(type='SiLU', inplace=True)


def fuse_conv_bn_weights(conv: nn.Conv2d, bn: _BatchNorm):
    """Returns ``(weight, bias)`` of one convolution equal to ``bn(conv(x))`` in eval mode.

    Args:
        conv: the convolution (with or without bias).
        bn: the batch norm that follows it.
    """
    std = (bn.running_var + bn.eps).sqrt()
    gamma = bn.weight if bn.affine else torch.ones_like(std)
    beta = bn.bias if bn.affine else torch.zeros_like(std)
    scale = gamma / std
    weight = conv.weight * scale.reshape(-1, 1, 1, 1)
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(std)
    bias = beta + (conv_bias - bn.running_mean) * scale
    return weight.detach(), bias.detach()


def conv_from_weights(template: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A biased ``nn.Conv2d`` with the geometry of ``template`` and the given weights."""
    conv = nn.Conv2d(template.in_channels, template.out_channels, template.kernel_size,
                     template.stride, template.padding, template.dilation, template.groups,
                     bias=True, padding_mode=template.padding_mode, device=weight.device,
                     dtype=weight.dtype)
    conv.weight.data.copy_(weight)
    conv.bias.data.copy_(bias)
    return conv


@MODELS.register_module()
class FusableConvModule(ConvModule):
    """mmcv ``ConvModule`` (conv -> norm -> act) whose BN folds into the conv on deploy.

    Takes exactly the arguments of :class:`mmcv.cnn.ConvModule`.
    :meth:`switch_to_deploy` replaces ``conv`` by a biased convolution carrying the batch
    norm's affine map and drops the norm layer; eval-mode outputs are unchanged.
    """

    def switch_to_deploy(self) -> None:
        if not self.with_norm:
            return
        if self.order.index('norm') != self.order.index('conv') + 1:
            raise ValueError(f'cannot fold the norm of a ConvModule with order={self.order}; '
                             "the norm must directly follow the conv, e.g. ('conv', 'norm', 'act')")
        norm = self.norm
        if not isinstance(norm, _BatchNorm):
            raise TypeError(f'only BatchNorm folds into a conv, got {type(norm).__name__}; '
                            "use norm_cfg=dict(type='BN') for a deployable model")
        weight, bias = fuse_conv_bn_weights(self.conv, norm)
        self.conv = conv_from_weights(self.conv, weight, bias)
        delattr(self, self.norm_name)
        self.norm_name = None
        self.with_norm = False


def conv_bn_act(in_channels: int,
                out_channels: int,
                kernel_size: int = 1,
                stride: int = 1,
                groups: int = 1,
                conv_cfg: Optional[dict] = None,
                norm_cfg: Optional[dict] = YOLOV7_NORM_CFG,
                act_cfg: Optional[dict] = YOLOV7_ACT_CFG) -> FusableConvModule:
    """YOLO's ``Conv`` layer: ``kernel_size`` conv with 'same' padding, BN and activation.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size (odd).
        stride: convolution stride.
        groups: convolution groups.
        conv_cfg: mmcv conv config (None: ``nn.Conv2d``).
        norm_cfg: norm config.
        act_cfg: activation config (None: linear).
    """
    return FusableConvModule(in_channels, out_channels, kernel_size, stride=stride,
                             padding=kernel_size // 2, groups=groups, conv_cfg=conv_cfg,
                             norm_cfg=norm_cfg, act_cfg=act_cfg)


def check_channels(owner: str, **channels: int) -> None:
    """Raises ValueError naming ``owner`` when a channel count is not a positive int."""
    for name, value in channels.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f'{owner}: {name} must be a positive int, got {value!r}')
