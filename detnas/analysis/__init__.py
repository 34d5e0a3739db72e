"""The logic behind ``tools/analysis``: measurements on built detectors (importable, tested
through the package; the tools parse arguments and write files)."""
from .anchor_coverage import anchor_coverage
from .scale_attention import attention_weights, plot_attention
from .tower_signal import (build_towered_detector, rms, tower_outputs, tower_signal,
                           tower_table)

__all__ = ['anchor_coverage', 'attention_weights', 'plot_attention', 'build_towered_detector',
           'rms', 'tower_outputs', 'tower_signal', 'tower_table']
