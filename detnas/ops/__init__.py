"""Custom ops. ``dilated_deform_fusion``: multi-rate deformable sampling fused in one pass
(CPU C++ and CUDA kernels registered as ``torch.ops.detnas.*``, PyTorch reference fallback).
"""
from ._ext import ext_available, has_kernel
from .ddf import DilatedDeformFusionFunction, check_args, dilated_deform_fusion, num_points
from .ddf_module import DilatedDeformFusion
from .reference import base_displacements, dilated_deform_fusion_reference

__all__ = [
    'dilated_deform_fusion', 'dilated_deform_fusion_reference', 'DilatedDeformFusion',
    'DilatedDeformFusionFunction', 'ext_available', 'has_kernel', 'check_args', 'num_points',
    'base_displacements'
]
