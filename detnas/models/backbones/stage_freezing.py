"""What the backbones share about training mode: the default initialisation, frozen stages
and BN layers kept in eval mode (``norm_eval``)."""
from typing import List

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def default_init_cfg() -> list:
    """Kaiming for convs, BN / GN weights one (mmdet's backbone default)."""
    return [dict(type='Kaiming', layer='Conv2d'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]


class StageFreezingMixin:
    """``frozen_stages`` and ``norm_eval`` for an ``nn.Module`` backbone.

    The class sets ``frozen_stages`` and ``norm_eval`` and lists its stem modules in
    :meth:`stem_modules`; stage ``i`` is the attribute ``layer{i}`` (override
    :meth:`frozen_modules` for other names). ``frozen_stages = k`` freezes the stem and stages
    1..k (-1: nothing): their parameters stop training and their BN statistics stay fixed.
    """

    def stem_modules(self) -> List[nn.Module]:
        """The modules before the first stage (frozen with ``frozen_stages >= 0``)."""
        raise NotImplementedError

    def frozen_modules(self) -> List[nn.Module]:
        """The modules ``frozen_stages`` freezes."""
        modules = list(self.stem_modules()) if self.frozen_stages >= 0 else []
        return modules + [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]

    def _freeze_stages(self) -> None:
        for m in self.frozen_modules():
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
