"""The logic behind ``tools/analysis``: measurements on built detectors (importable, tested
through the package; the tools parse arguments and write files)."""
from .scale_attention import attention_weights, plot_attention
from .tower_signal import build_towered_detector, rms, tower_signal, tower_table

__all__ = ['attention_weights', 'plot_attention', 'build_towered_detector', 'rms',
           'tower_signal', 'tower_table']
