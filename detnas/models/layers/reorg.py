"""Space-to-depth stem of the YOLOv7 P6 models (``ReOrg``)."""
import torch
from torch import nn

from mmdet.registry import MODELS


@MODELS.register_module()
class ReOrg(nn.Module):
    """Stacks the four 2x2-strided pixel phases as channels: (N, C, H, W) -> (N, 4C, H/2, W/2).

    The phase order (even/even, odd rows, odd columns, odd/odd) follows the official
    YOLOv7 ``ReOrg``. H and W must be even.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise ValueError(f'ReOrg needs an even height and width, got {tuple(x.shape[-2:])}; '
                             'pad the input to a multiple of the model stride')
        return torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2],
                          x[..., 1::2, 1::2]], dim=1)
