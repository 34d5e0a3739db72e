"""``nn.Module`` wrapper of the dilated-deformable fusion op with its offset/weight predictor."""
from typing import Sequence

import torch
from torch import Tensor, nn

from .ddf import check_args, dilated_deform_fusion, num_points


class DilatedDeformFusion(nn.Module):
    """Multi-rate deformable sampling whose offsets and point weights are predicted from x.

    The predictor is a depthwise ``offset_kernel_size`` conv followed by a 1x1 conv to the
    packed ``groups * 3 * P`` channels. The 1x1 conv starts at zero, so at initialisation all
    offsets are zero and all weights uniform (``1/P``): the module then averages a k x k grid
    at every dilation rate, per channel.

    Args:
        channels (int): input (= output) channels.
        dilations (Sequence[int]): dilation rates. Defaults to (1, 2, 3).
        kernel_size (int): odd grid size at each rate. Defaults to 3.
        groups (int): channel groups with their own offsets and weights. Defaults to 1.
        softmax (bool): softmax over the points of a location (an attention over rates and
            positions). Defaults to True.
        offset_kernel_size (int): kernel of the depthwise conv of the predictor. Defaults to 3.
        deterministic (bool): reproducible backward, see the op. Defaults to False.
    """

    def __init__(self,
                 channels: int,
                 dilations: Sequence[int] = (1, 2, 3),
                 kernel_size: int = 3,
                 groups: int = 1,
                 softmax: bool = True,
                 offset_kernel_size: int = 3,
                 deterministic: bool = False) -> None:
        super().__init__()
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f'channels must be a positive int, got {channels!r}')
        if not isinstance(offset_kernel_size, int) or offset_kernel_size % 2 == 0:
            raise ValueError(f'offset_kernel_size must be an odd int, got {offset_kernel_size!r}')
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f'groups must be a positive int, got {groups!r}')
        dilations = (dilations, ) if isinstance(dilations, int) else tuple(dilations)
        p = num_points(dilations, kernel_size) if isinstance(kernel_size, int) else 0
        # validate the remaining arguments exactly as the op will, on shape-only tensors
        probe = torch.empty(1, channels, 1, 1, device='meta')
        check_args(probe, probe.new_empty(1, groups * 3 * p, 1, 1), dilations, kernel_size,
                   groups)
        self.channels = channels
        self.dilations = dilations
        self.kernel_size = kernel_size
        self.groups = groups
        self.softmax = softmax
        self.deterministic = deterministic
        # False: the PyTorch reference even where a kernel exists (the ONNX export sets it)
        self.use_kernel = True
        self.num_points = p
        self.offset_dw = nn.Conv2d(
            channels,
            channels,
            offset_kernel_size,
            padding=offset_kernel_size // 2,
            groups=channels)
        self.offset_pw = nn.Conv2d(channels, groups * 3 * p, 1)
        self.reset_offset_weight()

    def reset_offset_weight(self) -> None:
        """Zero offsets and uniform point weights for every input."""
        nn.init.zeros_(self.offset_pw.weight)
        bias = self.offset_pw.bias.data.view(self.groups, 3 * self.num_points)
        bias.zero_()
        if not self.softmax:
            bias[:, 2 * self.num_points:] = 1.0 / self.num_points

    def forward(self, x: Tensor) -> Tensor:
        offset_weight = self.offset_pw(self.offset_dw(x))
        return dilated_deform_fusion(x, offset_weight, self.dilations, self.kernel_size,
                                     self.groups, self.softmax, self.deterministic,
                                     self.use_kernel)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, dilations={self.dilations}, '
                f'kernel_size={self.kernel_size}, groups={self.groups}, '
                f'softmax={self.softmax}')
