"""The search pipeline: a plan resolved once from the config (:class:`SearchPlan`), then
the stages split -> latency table -> supernet -> evolution -> export (:func:`run_search`)."""
from .cost import COST_METRICS, CandidateCost, latency_cases
from .export import ExportResult, export_subnet, exported_config, load_supernet, \
    subnet_state_dict
from .plan import SearchPlan
from .scoring import HeldoutEvaluator
from .settings import METRICS, SCORE_METRICS, SearchSettings
from .split import HeldoutSplit, heldout_image_ids, split_train_annotations
from .stages import (CHOICE_RULE, LOGGER_NAME, STAGES, SearchOutputs, SearchRun, choose,
                     parse_constraints, run_search)
from .supernet_config import build_supernet_config, supernet_backbone_config, \
    supernet_family

__all__ = ['COST_METRICS', 'CandidateCost', 'latency_cases', 'ExportResult', 'export_subnet',
           'exported_config', 'load_supernet', 'subnet_state_dict', 'SearchPlan',
           'HeldoutEvaluator', 'METRICS', 'SCORE_METRICS', 'SearchSettings',
           'HeldoutSplit', 'heldout_image_ids', 'split_train_annotations', 'CHOICE_RULE',
           'LOGGER_NAME', 'STAGES', 'SearchOutputs', 'SearchRun', 'choose',
           'parse_constraints', 'run_search', 'build_supernet_config',
           'supernet_backbone_config', 'supernet_family']
