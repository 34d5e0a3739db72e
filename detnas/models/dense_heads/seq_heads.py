"""Seq-Head: sequential classification / regression towers for dense heads.

Wang & Dai, "Zero Cost Improvements for General Object Detection Network" (2020) observe
that classification and box regression of the same location are correlated, and replace
the two parallel towers of a dense head (both fed by the FPN feature) by a sequence: the
second tower consumes the first tower's output. Nothing is added, so parameters and FLOPs
stay those of the parallel head (exactly, when ``in_channels == feat_channels``, which is
the case in every standard config; otherwise the second tower's first conv takes
``feat_channels`` instead of ``in_channels`` inputs).

One mechanism, :class:`SeqTowerMixin`, serves every head whose towers are the usual
``cls_convs`` / ``reg_convs`` ModuleLists: it rebuilds the second tower's input width with
the parent's own builder (so norm, DCN and bias options carry over) and runs the towers in
the chosen order. The registered heads only say which prediction layers read which tower:

* :class:`SeqRetinaHead` (anchor-based, mmdet ``RetinaHead``),
* :class:`SeqFCOSHead` (anchor-free, mmdet ``FCOSHead``),
* :class:`SeqATSSHead` (mmdet ``ATSSHead``).

``seq_order`` is ``'cls_reg'`` (cls tower first, the paper's choice), ``'reg_cls'``, or
``'parallel'``, which is the parent head exactly (an ablation control that loads the same
checkpoints).
"""
from typing import Sequence, Tuple

from mmcv.cnn import Scale
from torch import Tensor, nn

from mmdet.models.dense_heads import ATSSHead, FCOSHead, RetinaHead
from mmdet.models.dense_heads.anchor_free_head import AnchorFreeHead
from mmdet.registry import MODELS

SEQ_ORDERS = ('cls_reg', 'reg_cls', 'parallel')


def _run_tower(tower: nn.ModuleList, x: Tensor) -> Tensor:
    for layer in tower:
        x = layer(x)
    return x


class SeqTowerMixin:
    """Runs a dense head's ``cls_convs`` and ``reg_convs`` in sequence.

    Put it before the mmdet head class in the bases (``class H(SeqTowerMixin, RetinaHead)``);
    the head's ``forward_single`` then takes its tower features from
    :meth:`forward_towers`.

    Args:
        seq_order: ``'cls_reg'`` (the regression tower reads the classification tower's
            output), ``'reg_cls'`` (the other way round) or ``'parallel'`` (both read the
            input feature, i.e. the parent head).
        *args, **kwargs: passed to the parent head.
    """

    def __init__(self, *args, seq_order: str = 'cls_reg', **kwargs):
        if seq_order not in SEQ_ORDERS:
            raise ValueError(f'seq_order must be one of {SEQ_ORDERS}, got {seq_order!r}')
        # set before the parent's __init__, which builds the layers through _init_layers()
        object.__setattr__(self, 'seq_order', seq_order)
        super().__init__(*args, **kwargs)

    def _tower_names(self) -> Tuple[str, str]:
        """Names of the (first, second) tower in execution order."""
        if self.seq_order == 'reg_cls':
            return 'reg_convs', 'cls_convs'
        return 'cls_convs', 'reg_convs'

    def _init_layers(self) -> None:
        """Builds the parent's layers; in sequential mode the second tower's first conv
        takes ``feat_channels`` inputs (the first tower's width)."""
        super()._init_layers()
        first_name, second_name = self._tower_names()
        if (self.seq_order == 'parallel' or self.in_channels == self.feat_channels
                or len(getattr(self, second_name)) == 0):
            return
        # rebuild with the parent's own builder, seeing feat_channels as the input width,
        # and keep only the second tower of that build
        first_tower = getattr(self, first_name)
        in_channels = self.in_channels
        self.in_channels = self.feat_channels
        try:
            super()._init_layers()
        finally:
            self.in_channels = in_channels
        setattr(self, first_name, first_tower)

    def forward_towers(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Runs both towers on one level's feature.

        Args:
            x: feature of one pyramid level, (B, in_channels, H, W).

        Returns:
            ``(cls_feat, reg_feat)``, each (B, feat_channels, H, W) (or ``x`` itself for
            an empty tower).
        """
        if self.seq_order == 'parallel':
            return _run_tower(self.cls_convs, x), _run_tower(self.reg_convs, x)
        if self.seq_order == 'cls_reg':
            cls_feat = _run_tower(self.cls_convs, x)
            return cls_feat, _run_tower(self.reg_convs, cls_feat)
        reg_feat = _run_tower(self.reg_convs, x)
        return _run_tower(self.cls_convs, reg_feat), reg_feat


@MODELS.register_module()
class SeqRetinaHead(SeqTowerMixin, RetinaHead):
    """RetinaHead with sequential towers (anchor-based Seq-Head).

    Args:
        seq_order: tower order, see :class:`SeqTowerMixin`.
        *args, **kwargs: :class:`mmdet.models.dense_heads.RetinaHead` arguments.
    """

    def forward_single(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Returns ``(cls_score, bbox_pred)`` of one level, as RetinaHead does."""
        cls_feat, reg_feat = self.forward_towers(x)
        return self.retina_cls(cls_feat), self.retina_reg(reg_feat)


class SeqAnchorFreeHead(SeqTowerMixin, AnchorFreeHead):
    """AnchorFreeHead whose towers run in sequence (abstract, like AnchorFreeHead).

    Subclasses of mmdet's anchor-free heads list it *after* the mmdet head
    (``class H(FCOSHead, SeqAnchorFreeHead)``): the mmdet head's ``forward_single`` calls
    ``super().forward_single(x)`` for ``(cls_score, bbox_pred, cls_feat, reg_feat)``, and the
    method resolution order routes that call here, so the head's own post-processing
    (scales, strides, centerness) is reused unchanged.
    """

    def forward_single(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        cls_feat, reg_feat = self.forward_towers(x)
        return self.conv_cls(cls_feat), self.conv_reg(reg_feat), cls_feat, reg_feat


@MODELS.register_module()
class SeqFCOSHead(FCOSHead, SeqAnchorFreeHead):
    """FCOSHead with sequential towers (anchor-free Seq-Head).

    With ``centerness_on_reg=False`` the centerness branch reads the cls tower's output,
    which in ``'reg_cls'`` order has also seen the regression tower.

    Args:
        seq_order: tower order, see :class:`SeqTowerMixin`.
        *args, **kwargs: :class:`mmdet.models.dense_heads.FCOSHead` arguments.
    """


@MODELS.register_module()
class SeqATSSHead(SeqTowerMixin, ATSSHead):
    """ATSSHead with sequential towers.

    Args:
        seq_order: tower order, see :class:`SeqTowerMixin`.
        *args, **kwargs: :class:`mmdet.models.dense_heads.ATSSHead` arguments.
    """

    def forward_single(self, x: Tensor, scale: Scale) -> Sequence[Tensor]:
        """Returns ``(cls_score, bbox_pred, centerness)`` of one level, as ATSSHead does."""
        cls_feat, reg_feat = self.forward_towers(x)
        cls_score = self.atss_cls(cls_feat)
        bbox_pred = scale(self.atss_reg(reg_feat)).float()
        centerness = self.atss_centerness(reg_feat)
        return cls_score, bbox_pred, centerness
