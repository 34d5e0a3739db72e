"""Does a mapped backbone still classify like its seed? Top-1/top-5 agreement on the real
photos bundled with scikit-image and scikit-learn, before any training."""
from typing import Dict, List, Sequence

import numpy as np
import torch
from torch import Tensor, nn

PHOTO_NAMES = ('chelsea', 'coffee', 'astronaut', 'rocket', 'china', 'flower')


def load_real_photos(names: Sequence[str] = PHOTO_NAMES) -> Dict[str, np.ndarray]:
    """RGB uint8 photos shipped inside scikit-image (chelsea, coffee, astronaut, rocket)
    and scikit-learn (china, flower); no download."""
    from skimage import data
    from sklearn.datasets import load_sample_image
    photos = {}
    for name in names:
        if name in ('china', 'flower'):
            photos[name] = load_sample_image(f'{name}.jpg')
        else:
            photos[name] = getattr(data, name)()
    return photos


@torch.no_grad()
def imagenet_logits(backbone: nn.Module, classifier: Dict[str, Tensor],
                    images: Sequence[np.ndarray]) -> Tensor:
    """(N, 1000) logits of ``backbone`` (last output pooled) plus the ``fc`` classifier."""
    from detnas.checkpoints.imagenet import ImageNetClassifier, imagenet_preprocess
    model = ImageNetClassifier(backbone, classifier).eval()
    return model(torch.cat([imagenet_preprocess(im) for im in images]))


def topk_agreement(seed_logits: Tensor, target_logits: Tensor, k: int = 5
                   ) -> Dict[str, float]:
    """``top1``: fraction of images with the same top-1 class; ``top5``: mean overlap of
    the top-5 sets (|A & B| / 5); ``max_rel_diff``: largest logit change / largest logit."""
    s1, t1 = seed_logits.argmax(1), target_logits.argmax(1)
    s5, t5 = seed_logits.topk(k, 1).indices, target_logits.topk(k, 1).indices
    overlap: List[float] = [len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(s5, t5)]
    diff = (seed_logits - target_logits).abs().max() / seed_logits.abs().max()
    return dict(top1=(s1 == t1).float().mean().item(), top5=float(np.mean(overlap)),
                max_rel_diff=diff.item())
