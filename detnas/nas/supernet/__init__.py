"""Weight-sharing supernets: elastic layers, the backbone base class, the elastic FPN, seed
initialisation, BN recalibration and the seed-config -> supernet-config conversion."""
from .backbone import ElasticBackbone
from .bn_calibration import detector_forward, recalibrate_bn
from .fpn import ElasticFPN
from .layers import (ElasticBatchNorm2d, ElasticConv2d, ElasticConvModule, block_diagonal,
                     check_batch_norm)
from .seed_init import map_seed_into_supernet

__all__ = ['ElasticBackbone', 'detector_forward', 'recalibrate_bn', 'ElasticFPN',
           'ElasticBatchNorm2d', 'ElasticConv2d', 'ElasticConvModule', 'block_diagonal',
           'check_batch_norm', 'map_seed_into_supernet']
