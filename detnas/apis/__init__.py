"""Inference on images: a trained detector from its config and checkpoint, batched
prediction, and sliced (tiled) prediction for large images with small objects."""
from .predict import load_trained_detector, predict_images
from .sliced import merge_detections, predict_sliced

__all__ = ['load_trained_detector', 'predict_images', 'predict_sliced', 'merge_detections']
