"""FPN whose input convs accept a supernet's sampled widths.

A weight-sharing backbone (:class:`~.backbone.ElasticBackbone`) returns, for the active
sub-net, the *first* ``k`` channels of each output, its most important ones. The
FPN's lateral 1x1 convs (and, with ``add_extra_convs='on_input'``, the first extra conv,
which reads the last backbone output) are built for the largest widths and read the first
``k`` input channels of their weight: the same slicing the backbone uses, so a sub-net's
neck is a slice of the supernet's neck and exports as a plain ``FPN`` with
``in_channels`` = the sub-net's widths (:meth:`ElasticFPN.static_state`). The output width is
fixed, so the head needs no change.
"""
from typing import Dict, Sequence

from mmdet.models.necks import FPN
from mmdet.registry import MODELS

from .layers import ElasticConv2d, StateDict


def _elastic_copy(conv) -> ElasticConv2d:
    k = conv.kernel_size[0]
    if conv.groups != 1 or conv.kernel_size[0] != conv.kernel_size[1] or \
            conv.padding[0] != conv.dilation[0] * (k - 1) // 2:
        raise ValueError('ElasticFPN: only plain square same-padding convs can read a '
                         f'sliced input, got {conv}')
    new = ElasticConv2d(conv.in_channels, conv.out_channels, k, conv.stride[0],
                        conv.dilation[0], bias=conv.bias is not None)
    new.load_state_dict(conv.state_dict())
    return new


@MODELS.register_module()
class ElasticFPN(FPN):
    """mmdet's ``FPN`` (same arguments, same state-dict keys) whose input convs read only
    the channels their input has. ``in_channels`` are the backbone's largest widths."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.sliced_convs():
            module = self.get_submodule(name)
            parent, _, attr = name.rpartition('.')
            setattr(self.get_submodule(parent), attr, _elastic_copy(module))

    def sliced_convs(self) -> Dict[str, int]:
        """Conv modules reading a backbone output -> the index of that output."""
        out = {f'lateral_convs.{i}.conv': self.start_level + i
               for i in range(len(self.lateral_convs))}
        extra = self.num_outs - (self.backbone_end_level - self.start_level)
        if self.add_extra_convs == 'on_input' and extra > 0:
            out[f'fpn_convs.{len(self.lateral_convs)}.conv'] = self.backbone_end_level - 1
        return out

    def static_state(self, in_channels: Sequence[int]) -> StateDict:
        """The state dict of the plain ``FPN`` on backbone outputs of ``in_channels``
        channels (one per backbone output): the sliced convs give their active slice, the
        rest is copied."""
        state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        for name, index in self.sliced_convs().items():
            conv = self.get_submodule(name)
            state.update({f'{name}.{k}': v
                          for k, v in conv.static_state(in_channels[index]).items()})
        return state
