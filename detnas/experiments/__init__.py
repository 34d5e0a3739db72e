"""The experiment harness of ``tools/demo.py`` and ``bench/``: controlled training runs
(:mod:`.runner`), side-by-side comparisons (:mod:`.compare`), costs (:mod:`.costs`), data
(:mod:`.data`) and statistics over seeds (:mod:`.stats`). It runs the tools as
``python -m detnas.tools.*``, so it works from an installed wheel."""
from .costs import measure_costs
from .data import data_root_options, ensure_demo_data
from .runner import (FINISHED_ONLY_NOTE, METRICS, experiment_config, finished_record,
                     logged_scalars, recorded_runs, restore_record, restore_runs, run_logged,
                     run_or_reuse, search_and_export, seconds_text, tool_command,
                     train_and_test)
from .stats import (concave_bound_at, curve_at, goal_verdict, kendall_tau, mean_std,
                    paired_difference_interval, paired_ratio, paired_ratio_interval,
                    spearman_rho)

__all__ = ['measure_costs', 'data_root_options', 'ensure_demo_data', 'FINISHED_ONLY_NOTE',
           'METRICS', 'experiment_config', 'finished_record', 'logged_scalars', 'recorded_runs',
           'restore_record', 'restore_runs', 'run_logged', 'run_or_reuse', 'search_and_export',
           'seconds_text', 'tool_command', 'train_and_test', 'concave_bound_at', 'curve_at',
           'goal_verdict', 'kendall_tau', 'mean_std', 'paired_difference_interval',
           'paired_ratio', 'paired_ratio_interval', 'spearman_rho']
