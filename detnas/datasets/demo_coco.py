"""The embedded demo detection data set: textured shapes pasted on crops of real photos.

No package on this machine ships real box-annotated detection data, so detnas generates one
that behaves like it: every pixel comes from real photographs bundled with scikit-image and
scikit-learn, objects are silhouettes (the class) filled with real textures (not the class),
with colour, scale, rotation and occlusion variety plus unlabelled texture clutter. Train and
val use disjoint background photos. The output is a COCO-format data set, deterministic from
the seed. Results on it are demo-data results, never COCO results.
"""
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

CLASSES = ('circle', 'triangle', 'square', 'star', 'ring', 'cross')
TRAIN_BACKGROUNDS = ('astronaut', 'coffee', 'hubble_deep_field', 'china', 'camera', 'coins')
VAL_BACKGROUNDS = ('chelsea', 'rocket', 'flower')
TEXTURES = ('brick', 'grass', 'gravel', 'astronaut', 'coffee', 'chelsea', 'rocket',
            'hubble_deep_field', 'china', 'flower', 'camera', 'coins')
SUPERSAMPLE = 4  # anti-aliasing factor for silhouettes


@dataclass
class DemoCocoSpec:
    """What to generate.

    Args:
        seed: seed of every random choice; the same seed gives byte-identical json.
        num_train: number of training images.
        num_val: number of validation images.
        image_size: (height, width) of every image.
        objects_per_image: inclusive range of annotated objects per image.
        clutter_per_image: inclusive range of unlabelled texture blobs per image.
        min_size: smallest object side length in pixels (before rotation).
        max_size: largest object side length in pixels.
        max_occlusion: largest fraction of an object that later objects may cover.
    """
    seed: int = 0
    num_train: int = 320
    num_val: int = 80
    image_size: Tuple[int, int] = (320, 320)
    objects_per_image: Tuple[int, int] = (3, 9)
    clutter_per_image: Tuple[int, int] = (1, 4)
    min_size: int = 8
    max_size: int = 224
    max_occlusion: float = 0.5

    def __post_init__(self):
        if self.num_train < 1 or self.num_val < 1:
            raise ValueError('num_train and num_val must be at least 1')
        if not 8 <= self.min_size < self.max_size:
            raise ValueError(f'need 8 <= min_size < max_size, got {self.min_size}, '
                             f'{self.max_size}')
        if self.max_size > min(self.image_size):
            raise ValueError(f'max_size {self.max_size} exceeds the image size '
                             f'{self.image_size}')


def load_photo(name: str) -> np.ndarray:
    """Returns a bundled real photo as an RGB uint8 array.

    Args:
        name: a scikit-image data name (``'chelsea'``) or a scikit-learn sample image stem
            (``'china'``, ``'flower'``).
    """
    if name in ('china', 'flower'):
        from sklearn.datasets import load_sample_image
        img = load_sample_image(f'{name}.jpg')
    else:
        from skimage import data
        img = getattr(data, name)()
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def shape_polygons(cls: str, rng: np.random.Generator) -> List[np.ndarray]:
    """Outline of one class in unit coordinates ([-1, 1]^2).

    Returns a list of polygons: the first is filled, the others (if any) are holes.
    """
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], 1)
    if cls == 'circle':
        return [circle]
    if cls == 'ring':
        return [circle, circle * rng.uniform(0.45, 0.65)]
    if cls == 'square':
        return [np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)]
    if cls == 'triangle':
        a = np.deg2rad([90, 210, 330])
        return [np.stack([np.cos(a), -np.sin(a)], 1)]
    if cls == 'star':
        a = np.deg2rad(np.arange(10) * 36 - 90)
        r = np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.38, 0.5))
        return [np.stack([r * np.cos(a), r * np.sin(a)], 1)]
    if cls == 'cross':
        w = rng.uniform(0.3, 0.45)
        return [np.array([[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1],
                          [-w, 1], [-w, w], [-1, w], [-1, -w], [-w, -w]], float)]
    raise KeyError(f'unknown demo class {cls!r}; known: {CLASSES}')


def blob_polygon(rng: np.random.Generator) -> List[np.ndarray]:
    """An irregular unlabelled blob (clutter) in unit coordinates."""
    t = np.sort(rng.uniform(0, 2 * np.pi, 9))
    r = rng.uniform(0.5, 1.0, 9)
    return [np.stack([r * np.cos(t), r * np.sin(t)], 1)]


def fill_polygon(rows: np.ndarray, cols: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Boolean mask of the pixel centres inside a polygon (even-odd crossing rule over its
    bounding box, vectorised; the same pixels as ``skimage.draw.polygon`` for vertices off
    the pixel lattice, about 8x faster).

    Args:
        rows: vertex row coordinates.
        cols: vertex column coordinates.
        shape: (height, width) of the mask.
    """
    mask = np.zeros(shape, bool)
    r0, r1 = max(0, int(rows.min())), min(shape[0] - 1, int(math.ceil(rows.max())))
    c0, c1 = max(0, int(cols.min())), min(shape[1] - 1, int(math.ceil(cols.max())))
    if r1 < r0 or c1 < c0:
        return mask
    y = np.arange(r0, r1 + 1, dtype=np.float64)[:, None]
    x = np.arange(c0, c1 + 1, dtype=np.float64)[None, :]
    inside = np.zeros((y.shape[0], x.shape[1]), bool)
    yj, xj = rows[-1], cols[-1]
    for yi, xi in zip(rows, cols):
        if yi != yj:  # a horizontal edge crosses no row
            crosses = ((yi <= y) & (y < yj)) | ((yj <= y) & (y < yi))
            inside ^= crosses & (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
        yj, xj = yi, xi
    mask[r0:r1 + 1, c0:c1 + 1] = inside
    return mask


def rasterize(polygons: Sequence[np.ndarray], size: float, aspect: float, angle: float,
              ) -> np.ndarray:
    """Draws polygons as a soft alpha mask (float32 in [0, 1]) of their rotated extent.

    Args:
        polygons: unit-coordinate polygons; the first filled, the others holes.
        size: side length in pixels of the unrotated shape.
        aspect: width / height of the unrotated shape.
        angle: rotation in radians.
    """
    sx, sy = size * math.sqrt(aspect) / 2, size / math.sqrt(aspect) / 2
    c, s = math.cos(angle), math.sin(angle)
    pts = [np.stack([p[:, 0] * sx * c - p[:, 1] * sy * s,
                     p[:, 0] * sx * s + p[:, 1] * sy * c], 1) for p in polygons]
    half = np.abs(pts[0]).max()
    extent = int(math.ceil(2 * half)) + 2
    hi = extent * SUPERSAMPLE
    canvas = np.zeros((hi, hi), np.float32)
    for i, p in enumerate(pts):
        q = (p + extent / 2) * SUPERSAMPLE
        canvas[fill_polygon(q[:, 1], q[:, 0], canvas.shape)] = 1.0 if i == 0 else 0.0
    return canvas.reshape(extent, SUPERSAMPLE, extent, SUPERSAMPLE).mean((1, 3))


def texture_patch(photos: Dict[str, np.ndarray], shape: Tuple[int, int],
                  rng: np.random.Generator) -> np.ndarray:
    """A real texture crop of ``shape`` with random zoom, tint, contrast and brightness."""
    src = photos[TEXTURES[rng.integers(len(TEXTURES))]]
    h, w = shape
    zoom = rng.uniform(0.5, 2.0)
    ch, cw = min(src.shape[0], max(2, int(h * zoom))), min(src.shape[1], max(2, int(w * zoom)))
    y, x = rng.integers(0, src.shape[0] - ch + 1), rng.integers(0, src.shape[1] - cw + 1)
    crop = Image.fromarray(src[y:y + ch, x:x + cw]).resize((w, h), Image.BILINEAR)
    tex = np.asarray(crop, np.float32)
    tint = rng.uniform(0.5, 1.5, 3).astype(np.float32)
    contrast = rng.uniform(0.6, 1.4)
    mean = tex.mean()
    tex = (tex - mean) * contrast + mean * rng.uniform(0.6, 1.3)
    return np.clip(tex * tint, 0, 255)


def background_crop(photo: np.ndarray, size: Tuple[int, int], rng: np.random.Generator
                    ) -> np.ndarray:
    """A random scaled crop of a background photo resized to ``size`` (h, w), maybe flipped."""
    h, w = size
    scale = rng.uniform(0.5, 1.0) * min(photo.shape[0] / h, photo.shape[1] / w)
    ch, cw = max(8, int(h * scale)), max(8, int(w * scale))
    y, x = rng.integers(0, photo.shape[0] - ch + 1), rng.integers(0, photo.shape[1] - cw + 1)
    crop = np.asarray(Image.fromarray(photo[y:y + ch, x:x + cw]).resize((w, h),
                                                                     Image.BILINEAR))
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop.astype(np.float32)


def to_canvas(arr: np.ndarray, top: int, left: int, size: Tuple[int, int]) -> np.ndarray:
    """Places ``arr`` (h x w [x c]) at (top, left) on a zero canvas of ``size``, clipped."""
    H, W = size
    h, w = arr.shape[:2]
    out = np.zeros((H, W) + arr.shape[2:], np.float32)
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + h, H), min(left + w, W)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = arr[y0 - top:y1 - top, x0 - left:x1 - left]
    return out


def paste(canvas: np.ndarray, alpha: np.ndarray, fill: np.ndarray) -> None:
    """Alpha-blends full-canvas ``fill`` onto ``canvas`` in place."""
    canvas *= 1 - alpha[..., None]
    canvas += fill * alpha[..., None]


def sample_size(spec: DemoCocoSpec, rng: np.random.Generator) -> float:
    """Object side length, log-uniform so that small, medium and large objects all occur."""
    return float(np.exp(rng.uniform(np.log(spec.min_size), np.log(spec.max_size))))


def render_image(spec: DemoCocoSpec, photos: Dict[str, np.ndarray], background: str,
                 rng: np.random.Generator) -> Tuple[np.ndarray, List[dict]]:
    """Renders one image; returns it (uint8 HxWx3) and its annotations (no ids yet)."""
    H, W = spec.image_size
    canvas = background_crop(photos[background], (H, W), rng)
    for _ in range(rng.integers(spec.clutter_per_image[0], spec.clutter_per_image[1] + 1)):
        alpha = rasterize(blob_polygon(rng), sample_size(spec, rng), rng.uniform(0.5, 2),
                          rng.uniform(0, 2 * np.pi))
        top = int(rng.integers(-alpha.shape[0] // 2, H - alpha.shape[0] // 2))
        left = int(rng.integers(-alpha.shape[1] // 2, W - alpha.shape[1] // 2))
        paste(canvas, to_canvas(alpha, top, left, (H, W)),
              to_canvas(texture_patch(photos, alpha.shape, rng), top, left, (H, W)))
    masks, labels = [], []
    wanted = rng.integers(spec.objects_per_image[0], spec.objects_per_image[1] + 1)
    for _ in range(wanted * 4):  # rejection sampling against heavy occlusion
        if len(labels) == wanted:
            break
        label = int(rng.integers(len(CLASSES)))
        alpha = rasterize(shape_polygons(CLASSES[label], rng), sample_size(spec, rng),
                          rng.uniform(0.7, 1.4), rng.uniform(0, 2 * np.pi))
        h, w = alpha.shape
        top, left = int(rng.integers(-h // 4, H - 3 * h // 4)), int(
            rng.integers(-w // 4, W - 3 * w // 4))
        placed = to_canvas(alpha, top, left, (H, W))
        if (placed > 0.5).sum() < 0.6 * (alpha > 0.5).sum():
            continue  # mostly outside the image
        if any(((m > 0.5) & (placed > 0.5)).sum() > spec.max_occlusion * (m > 0.5).sum()
               for m in masks):
            continue
        paste(canvas, placed, to_canvas(texture_patch(photos, alpha.shape, rng), top, left,
                                        (H, W)))
        masks = [m * (1 - placed) for m in masks] + [placed]
        labels.append(label)
    canvas += rng.normal(0, rng.uniform(0, 6), canvas.shape).astype(np.float32)
    anns = []
    for m, label in zip(masks, labels):
        visible = m > 0.5
        area = int(visible.sum())
        if area < 4:
            continue
        ys, xs = np.nonzero(visible)
        x0, y0 = int(xs.min()), int(ys.min())
        anns.append(dict(category_id=label + 1, area=float(area), iscrowd=0,
                         bbox=[float(x0), float(y0), float(xs.max() + 1 - x0),
                               float(ys.max() + 1 - y0)]))
    return np.clip(canvas, 0, 255).astype(np.uint8), anns


def make_split(spec: DemoCocoSpec, split: str, out_dir: str, photos: Dict[str, np.ndarray],
               progress: bool = True) -> str:
    """Writes ``out_dir/<split>/*.jpg`` and ``out_dir/annotations/instances_<split>.json``.

    Returns the annotation file path.
    """
    num, backgrounds = ((spec.num_train, TRAIN_BACKGROUNDS) if split == 'train' else
                        (spec.num_val, VAL_BACKGROUNDS))
    rng = np.random.default_rng([spec.seed, 0 if split == 'train' else 1])
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    images, annotations = [], []
    iterator = range(num)
    if progress:
        from tqdm import tqdm
        iterator = tqdm(iterator, desc=f'demo {split}', unit='img')
    for i in iterator:
        img, anns = render_image(spec, photos, backgrounds[i % len(backgrounds)], rng)
        name = f'{split}_{i:05d}.jpg'
        Image.fromarray(img).save(osp.join(img_dir, name), quality=92)
        images.append(dict(id=i + 1, file_name=name, height=img.shape[0], width=img.shape[1]))
        for a in anns:
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, **a))
    coco = dict(
        info=dict(description=f'detnas demo data ({split}), generated', version='1',
                  spec=asdict(spec)),
        licenses=[], images=images, annotations=annotations,
        categories=[dict(id=i + 1, name=n, supercategory='shape')
                    for i, n in enumerate(CLASSES)])
    ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    tmp = ann_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(coco, f)
    os.replace(tmp, ann_file)
    return ann_file


def make_demo_coco(out_dir: str, spec: Optional[DemoCocoSpec] = None,
                   progress: bool = True) -> Dict[str, str]:
    """Generates the demo data set under ``out_dir``.

    Args:
        out_dir: output folder; gets ``train/``, ``val/`` and ``annotations/``.
        spec: what to generate (defaults: :class:`DemoCocoSpec`).
        progress: show a progress bar.

    Returns:
        dict mapping split name to its annotation file.
    """
    spec = spec or DemoCocoSpec()
    photos = {n: load_photo(n) for n in set(TEXTURES + TRAIN_BACKGROUNDS + VAL_BACKGROUNDS)}
    return {s: make_split(spec, s, out_dir, photos, progress) for s in ('train', 'val')}
