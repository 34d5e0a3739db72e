"""Weight mapping: carry a pretrained seed's parameters into any adapted architecture.

Used by the supernet (initialise the largest candidate), the search (every candidate starts
from the seed) and the export (a searched subnet's checkpoint). See :func:`map_weights`.
Lossy maps (narrower, shallower, smaller expansion) can then be refitted on unlabeled images
(:func:`refit_mapping`: least-squares reconstruction of the pointwise convs) and distilled
(:func:`distill_mapping`: a short training to reproduce the seed's stage outputs).
"""
from .agreement import imagenet_logits, load_real_photos, topk_agreement
from .api import MappingConfig, MappingResult, map_weights
from .cross_family import LayerMatch, extract_layers, map_across_families, match_layers
from .distill import distill_mapping, distill_stages
from .errors import MappingError
from .refit import calibration_images, refit_mapping, refit_pointwise, seed_backbone
from .report import MappingReport, TensorRecord
from .selection import Selection, select_channels
from .spec import ArchSpec, ConvNode, infer_spec, spec_from_module
from .within_family import map_within_family

__all__ = [
    'MappingConfig', 'MappingResult', 'map_weights', 'LayerMatch', 'extract_layers',
    'map_across_families', 'match_layers', 'MappingError', 'MappingReport', 'TensorRecord',
    'Selection', 'select_channels', 'ArchSpec', 'ConvNode', 'infer_spec', 'spec_from_module',
    'map_within_family', 'imagenet_logits', 'load_real_photos', 'topk_agreement',
    'calibration_images', 'refit_mapping', 'refit_pointwise', 'seed_backbone',
    'distill_mapping', 'distill_stages'
]
