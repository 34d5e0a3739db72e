"""Lets mmdet's COCO evaluation read annotation files without the optional ``info`` and
``licenses`` keys (many converters omit them; pycocotools' ``loadRes`` copies ``info`` and
fails with ``KeyError: 'info'``). Applied on ``import detnas``, so mmdet's own tools and
metrics benefit too."""
import functools


def accept_optional_coco_keys() -> None:
    """Wraps ``mmdet.datasets.api_wrappers.COCO.__init__`` to fill in ``info`` and
    ``licenses`` when the file has none (idempotent)."""
    from mmdet.datasets.api_wrappers import COCO
    init = COCO.__init__
    if getattr(init, '_detnas_optional_keys', False):
        return

    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.dataset.setdefault('info', {})
        self.dataset.setdefault('licenses', [])

    wrapped._detnas_optional_keys = True
    COCO.__init__ = wrapped
