"""The YOLOv7 / gradient-path blocks as backbone search-space ops (``detnas.registry.SEARCH_OPS``).

Every factory has the search-op signature ``(in_channels, out_channels, stride, **options)``
and maps ``(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)`` (even H, W). Blocks
that do not stride themselves get a YOLOv7 transition in front when ``stride == 2``,
chosen by ``downsample``: ``'mp'`` (:class:`MPDownsample`), ``'downc'`` (:class:`DownC`),
``'conv'`` (3x3 stride-2 conv) or ``'maxpool'``, the way YOLOv7 builds its stages.
"""
from typing import Optional

from torch import nn

from detnas.registry import SEARCH_OPS
from .csp import CSPStage
from .e_elan import EELANBlock, EELANSumBlock
from .elan import ELANBlock
from .mp import DownC, MPDownsample
from .prn import PRNBlock
from .rep_conv import RepConv
from .sppcspc import SPPCSPC
from .yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, conv_bn_act

_DOWNSAMPLERS = ('mp', 'downc', 'conv', 'maxpool')


def _check_stride(op: str, stride: int, allowed=(1, 2)) -> None:
    if stride not in allowed:
        raise ValueError(f'search op {op!r}: stride must be one of {allowed}, got {stride!r}')


def _with_downsample(op: str, block: nn.Module, in_channels: int, stride: int,
                     downsample: str, norm_cfg: dict, act_cfg: dict) -> nn.Module:
    _check_stride(op, stride)
    if stride == 1:
        return block
    if downsample not in _DOWNSAMPLERS:
        raise ValueError(f'search op {op!r}: downsample must be one of {_DOWNSAMPLERS}, '
                         f'got {downsample!r}')
    cfg = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
    down = {
        'mp': lambda: MPDownsample(in_channels, in_channels, **cfg),
        'downc': lambda: DownC(in_channels, in_channels, **cfg),
        'conv': lambda: conv_bn_act(in_channels, in_channels, 3, stride=2, **cfg),
        'maxpool': lambda: nn.MaxPool2d(2, 2),
    }[downsample]()
    return nn.Sequential(down, block)


def _elan_widths(out_channels: int, mid_channels: Optional[int], block_channels: Optional[int]):
    mid = mid_channels if mid_channels is not None else max(out_channels // 2, 1)
    return mid, (block_channels if block_channels is not None else mid)


@SEARCH_OPS.register_module(name='yolov7_elan')
def elan_op(in_channels: int, out_channels: int, stride: int = 1,
            mid_channels: Optional[int] = None, block_channels: Optional[int] = None,
            num_convs: int = 4, concat_every: int = 2, downsample: str = 'mp',
            norm_cfg: dict = YOLOV7_NORM_CFG, act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """ELAN stage (``mid_channels`` defaults to ``out_channels // 2``)."""
    mid, block = _elan_widths(out_channels, mid_channels, block_channels)
    elan = ELANBlock(in_channels, out_channels, mid, block, num_convs, concat_every,
                     norm_cfg=norm_cfg, act_cfg=act_cfg)
    return _with_downsample('yolov7_elan', elan, in_channels, stride, downsample,
                            norm_cfg, act_cfg)


@SEARCH_OPS.register_module(name='yolov7_eelan')
def eelan_op(in_channels: int, out_channels: int, stride: int = 1,
             mid_channels: Optional[int] = None, block_channels: Optional[int] = None,
             num_convs: int = 4, concat_every: int = 2, groups: int = 2,
             downsample: str = 'mp', norm_cfg: dict = YOLOV7_NORM_CFG,
             act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """Paper-form E-ELAN stage (group conv expand, shuffle, merge)."""
    mid, block = _elan_widths(out_channels, mid_channels, block_channels)
    eelan = EELANBlock(in_channels, out_channels, mid, block, num_convs, concat_every,
                       groups, norm_cfg=norm_cfg, act_cfg=act_cfg)
    return _with_downsample('yolov7_eelan', eelan, in_channels, stride, downsample,
                            norm_cfg, act_cfg)


@SEARCH_OPS.register_module(name='yolov7_eelan_sum')
def eelan_sum_op(in_channels: int, out_channels: int, stride: int = 1,
                 mid_channels: Optional[int] = None, block_channels: Optional[int] = None,
                 num_convs: int = 4, concat_every: int = 2, groups: int = 2,
                 downsample: str = 'downc', norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """Official E6E-form E-ELAN stage (parallel ELANs added)."""
    mid, block = _elan_widths(out_channels, mid_channels, block_channels)
    block_ = EELANSumBlock(in_channels, out_channels, groups, mid_channels=mid,
                           block_channels=block, num_convs=num_convs,
                           concat_every=concat_every, norm_cfg=norm_cfg, act_cfg=act_cfg)
    return _with_downsample('yolov7_eelan_sum', block_, in_channels, stride, downsample,
                            norm_cfg, act_cfg)


@SEARCH_OPS.register_module(name='yolov7_mp')
def mp_op(in_channels: int, out_channels: int, stride: int = 2,
          norm_cfg: dict = YOLOV7_NORM_CFG, act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """MP transition; a downsampling-only op (stride must be 2)."""
    _check_stride('yolov7_mp', stride, (2, ))
    return MPDownsample(in_channels, out_channels, norm_cfg=norm_cfg, act_cfg=act_cfg)


@SEARCH_OPS.register_module(name='yolov7_downc')
def downc_op(in_channels: int, out_channels: int, stride: int = 2,
             norm_cfg: dict = YOLOV7_NORM_CFG, act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """DownC transition; a downsampling-only op (stride must be 2)."""
    _check_stride('yolov7_downc', stride, (2, ))
    return DownC(in_channels, out_channels, norm_cfg=norm_cfg, act_cfg=act_cfg)


@SEARCH_OPS.register_module(name='yolov7_sppcspc')
def sppcspc_op(in_channels: int, out_channels: int, stride: int = 1,
               kernel_sizes=(5, 9, 13), use_3x3: bool = True, downsample: str = 'mp',
               norm_cfg: dict = YOLOV7_NORM_CFG, act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """SPPCSPC block."""
    block = SPPCSPC(in_channels, out_channels, kernel_sizes=kernel_sizes, use_3x3=use_3x3,
                    norm_cfg=norm_cfg, act_cfg=act_cfg)
    return _with_downsample('yolov7_sppcspc', block, in_channels, stride, downsample,
                            norm_cfg, act_cfg)


@SEARCH_OPS.register_module(name='yolov7_repconv')
def repconv_op(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1,
               use_identity: bool = True, norm_cfg: dict = YOLOV7_NORM_CFG,
               act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """RepConv (3x3 + 1x1 + identity; one 3x3 conv after ``switch_to_deploy``)."""
    _check_stride('yolov7_repconv', stride)
    return RepConv(in_channels, out_channels, 3, stride, groups, use_identity,
                   norm_cfg=norm_cfg, act_cfg=act_cfg)


@SEARCH_OPS.register_module(name='yolov7_prn')
def prn_op(in_channels: int, out_channels: int, stride: int = 1, expansion: float = 1.0,
           partial_ratio: float = 0.5, norm_cfg: dict = YOLOV7_NORM_CFG,
           act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """PRN partial-residual bottleneck (strides itself)."""
    return PRNBlock(in_channels, out_channels, stride, expansion, partial_ratio,
                    norm_cfg=norm_cfg, act_cfg=act_cfg)


@SEARCH_OPS.register_module(name='yolov7_csp')
def csp_op(in_channels: int, out_channels: int, stride: int = 1,
           block_cfg: Optional[dict] = None, num_blocks: int = 1, split_ratio: float = 0.5,
           downsample: str = 'mp', norm_cfg: dict = YOLOV7_NORM_CFG,
           act_cfg: dict = YOLOV7_ACT_CFG) -> nn.Module:
    """CSP stage around ``block_cfg`` (default PRN blocks)."""
    block = CSPStage(in_channels, out_channels, block_cfg, num_blocks, split_ratio,
                     norm_cfg=norm_cfg, act_cfg=act_cfg)
    return _with_downsample('yolov7_csp', block, in_channels, stride, downsample,
                            norm_cfg, act_cfg)
