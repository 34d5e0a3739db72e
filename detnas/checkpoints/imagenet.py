"""ImageNet classification on top of an mmdet backbone: proves a seed was loaded right.

A detector never uses the ImageNet classifier, but a backbone whose converted weights put
the right classes in the top-5 for real photos was loaded correctly, tensor by tensor.
"""
from typing import Dict, Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ImageNet-1k class indices for the bundled real photos (published class list).
PHOTO_CLASSES: Dict[str, Dict[int, str]] = {
    'chelsea': {281: 'tabby', 282: 'tiger cat', 285: 'Egyptian cat', 283: 'Persian cat'},
    'coffee': {967: 'espresso', 968: 'cup', 504: 'coffee mug', 925: 'consomme'},
    'rocket': {657: 'missile', 744: 'projectile', 812: 'space shuttle'},
}


def imagenet_preprocess(img: np.ndarray, resize: int = 256, crop: int = 224) -> Tensor:
    """Standard ImageNet evaluation transform: shorter side to ``resize``, centre crop,
    normalise. Returns a (1, 3, crop, crop) float tensor.

    Args:
        img: RGB uint8 array (H, W, 3).
        resize: shorter side after resizing.
        crop: side of the centre crop.
    """
    pil = Image.fromarray(img)
    w, h = pil.size
    scale = resize / min(w, h)
    pil = pil.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    w, h = pil.size
    left, top = (w - crop) // 2, (h - crop) // 2
    arr = np.asarray(pil.crop((left, top, left + crop, top + crop)), np.float32) / 255.0
    arr = (arr - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())[None]


class ImageNetClassifier(nn.Module):
    """Backbone's last feature map -> global average pool -> linear classifier.

    Args:
        backbone: module returning a tuple whose last entry is the final feature map.
        classifier: ``fc.weight`` (num_classes, C) and ``fc.bias`` tensors.
    """

    def __init__(self, backbone: nn.Module, classifier: Dict[str, Tensor]):
        super().__init__()
        self.backbone = backbone
        weight = classifier['fc.weight']
        self.fc = nn.Linear(weight.shape[1], weight.shape[0])
        self.fc.load_state_dict({'weight': weight, 'bias': classifier['fc.bias']})

    def forward(self, x: Tensor) -> Tensor:
        feat = self.backbone(x)[-1]
        return self.fc(feat.mean((2, 3)))


@torch.no_grad()
def topk_classes(model: nn.Module, images: Sequence[np.ndarray], k: int = 5) -> Tensor:
    """Top-k ImageNet class indices (N, k) of RGB uint8 images, in eval mode."""
    model.eval()
    batch = torch.cat([imagenet_preprocess(im) for im in images])
    return model(batch).topk(k, dim=1).indices
