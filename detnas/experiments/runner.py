"""Controlled training runs: one config, one seed, the demo schedule, evaluated once.

The demo (``tools/demo.py``) and the benchmark scripts in ``bench/`` compare detectors by
training each config with ``detnas.tools.train`` and evaluating its *last* checkpoint with
``detnas.tools.test`` on the val split (no best-checkpoint picking: val is the only held-out
split). Both run as subprocesses of this Python (``python -m detnas.tools.*``), so the
runner works from an installed wheel as well as from the checkout. A finished run leaves
``record.json`` in its folder and is reused, so an interrupted comparison resumes where it
stopped.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from mmengine.config import Config

from detnas.utils.io import atomic_write_json
from .data import data_root_options

# COCO summary names -> the keys mmdet's CocoMetric logs (values are fractions in [0, 1])
METRICS = dict(AP='coco/bbox_mAP', AP50='coco/bbox_mAP_50', AP75='coco/bbox_mAP_75',
               AP_s='coco/bbox_mAP_s', AP_m='coco/bbox_mAP_m', AP_l='coco/bbox_mAP_l')
# what a bench table says when it was written from the finished runs alone (--finished-only)
FINISHED_ONLY_NOTE = ' (finished runs only: a row holds the seeds in its Seeds column)'


def tool_command(tool: str, *args: str) -> List[str]:
    """The command line that runs a detnas tool with this interpreter
    (``python -m detnas.tools.<tool> ARGS``)."""
    return [sys.executable, '-m', f'detnas.tools.{tool}', *map(str, args)]


def experiment_config(base: str, seed: int, data_root: str,
                      max_epochs: Optional[int] = None, tiny: bool = False) -> Config:
    """The config ``base`` set up for one controlled run.

    Args:
        base: path of the config to train.
        seed: training seed (``randomness.seed``: initialisation and data order).
        data_root: demo-style data folder (``annotations/instances_{train,val}.json``).
        max_epochs: override the schedule length; epoch-based LR decay is stretched to it.
        tiny: pipeline check: batch 2, no workers, score threshold 0, log every iteration.
    """
    cfg = Config.fromfile(base)
    cfg.randomness = dict(seed=seed, deterministic=False)
    data_root = data_root.rstrip('/') + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        if tiny:
            cfg[loader].batch_size = 2
            cfg[loader].num_workers = 0
            cfg[loader].persistent_workers = False
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    if max_epochs is not None:
        cfg.train_cfg.max_epochs = max_epochs
        for sched in cfg.param_scheduler:
            if sched.get('by_epoch', True):
                sched.end = max_epochs
                if 'T_max' in sched:
                    sched.T_max = max_epochs
    # evaluated once, after training, by tools/test.py on the last checkpoint
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg.pop('val_interval', None)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=cfg.train_cfg.max_epochs, max_keep_ckpts=1)
    if tiny:  # untrained models score low; keep their boxes so that COCO eval has input
        cfg.model.test_cfg.score_thr = 0.0
        cfg.default_hooks.logger.interval = 1
    return cfg


def run_logged(cmd: List[str], log_path: str, echo: bool = False) -> float:
    """Runs ``cmd`` with its output in ``log_path``.

    Args:
        cmd: the command line.
        log_path: file that receives stdout and stderr.
        echo: also stream the output to this process's stdout (progress of long runs).

    Returns:
        Wall-clock seconds. Raises RuntimeError with the log's tail when the command fails.
    """
    start = time.time()
    with open(log_path, 'w', buffering=1) as log:  # line by line: progress reads it live
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
        for line in proc.stdout:
            log.write(line)
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
        proc.wait()
    if proc.returncode != 0:
        with open(log_path) as log:
            tail = ''.join(log.readlines()[-30:])
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {proc.returncode}); see {log_path}:'
                           f'\n{tail}')
    return time.time() - start


def train_and_test(cfg: Config, run_dir: str, force: bool = False, echo: bool = False
                   ) -> Dict:
    """Trains ``cfg`` with the train tool, then evaluates the last checkpoint.

    Args:
        cfg: a config from :func:`experiment_config`.
        run_dir: the run's folder (config, logs, checkpoint, ``record.json``).
        force: retrain even when ``run_dir`` holds a finished run.
        echo: stream the tools' logs to stdout.

    Returns:
        The run record: ``metrics`` (COCO fractions; None where an area range has no
        ground truth), ``train_s``, ``test_s``, ``checkpoint``.
    """
    run_dir = osp.abspath(run_dir)
    record = None if force else finished_record(run_dir)
    if record is not None:
        return record
    os.makedirs(run_dir, exist_ok=True)
    cfg_file = osp.join(run_dir, 'config.py')
    cfg.dump(cfg_file)
    train_s = run_logged(tool_command('train', cfg_file, '--work-dir', run_dir),
                         osp.join(run_dir, 'train.log'), echo)
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    test_dir = osp.join(run_dir, 'test')
    test_s = run_logged(tool_command('test', cfg_file, ckpt, '--work-dir', test_dir),
                        osp.join(run_dir, 'test.log'), echo)
    with open(osp.join(test_dir, 'test_metrics.json')) as f:
        raw = json.load(f)
    record = dict(checkpoint=osp.relpath(ckpt), train_s=round(train_s, 1),
                  test_s=round(test_s, 1), epochs=cfg.train_cfg.max_epochs,
                  metrics={k: (raw[v] if raw.get(v, -1) >= 0 else None)
                           for k, v in METRICS.items()})
    atomic_write_json(osp.join(run_dir, 'record.json'), record)
    return record


def run_or_reuse(label: str, run_dir: str, make_cfg: Callable[[], Config],
                 finished_only: bool = False, force: bool = False) -> Optional[Dict]:
    """One run of a comparison: its finished record when ``run_dir`` holds one, else trained.

    Says on stdout which of the three happened (reused, left out, trained) and the AP.

    Args:
        label: how the progress lines name the run, e.g. ``'seed seed 3'``.
        run_dir: the run's folder.
        make_cfg: builds the run's config (called only when the run is trained).
        finished_only: never train; a run that has not finished is left out (None).
        force: retrain even when ``run_dir`` holds a finished run.
    """
    record = None if force else finished_record(run_dir)
    if record is not None:
        print(f'[{label}] finished run reused: {run_dir}', flush=True)
    elif finished_only:
        print(f'[{label}] not finished: left out', flush=True)
        return None
    else:
        cfg = make_cfg()
        print(f'[{label}] training ({cfg.train_cfg.max_epochs} epochs) ...', flush=True)
        record = train_and_test(cfg, run_dir, force=force)
    print(f'[{label}] AP {record["metrics"]["AP"]:.4f} '
          f'(train {seconds_text(record.get("train_s"))})', flush=True)
    return record


def logged_scalars(run_dir: str, key: str) -> List[Tuple[int, float]]:
    """``(iteration, value)`` of ``key`` in the run's latest mmengine scalars log
    (``run_dir/<timestamp>/vis_data/scalars.json``); empty when there is none.

    Args:
        run_dir: a training run's work dir.
        key: a logged scalar, e.g. ``'loss'``, ``'loss_cls'``, ``'grad_norm'``.
    """
    files = sorted(glob.glob(osp.join(run_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        return []
    with open(files[-1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(row['iter'], row[key]) for row in rows if key in row]


def seconds_text(value: Optional[float]) -> str:
    """Seconds as text ('n/a' for a restored run that did not record them)."""
    return 'n/a' if value is None else f'{value:.0f} s'


def finished_record(run_dir: str) -> Optional[Dict]:
    """The record of a finished run, or None when ``run_dir`` holds none.

    Args:
        run_dir: a run folder written by :func:`train_and_test`.
    """
    record_file = osp.join(run_dir, 'record.json')
    if not osp.isfile(record_file):
        return None
    with open(record_file) as f:
        return json.load(f)


def restore_record(run_dir: str, record: Dict, source: str) -> bool:
    """Makes ``run_dir`` count as finished with a record from an earlier results file
    (e.g. a committed ``bench/results/*.json`` on a machine whose ``work_dirs`` are gone).

    The restored record keeps its metrics and names its origin in ``reused_from`` (an
    existing ``reused_from`` is kept: it names the first run). A run that finished in
    ``run_dir`` is never overwritten.

    Args:
        run_dir: the run's folder.
        record: the run's record as the results file holds it.
        source: where the record comes from (file, command, date).

    Returns:
        True when the record was written, False when ``run_dir`` already held one.
    """
    if finished_record(run_dir) is not None:
        return False
    if not isinstance(record.get('metrics'), dict) or 'AP' not in record['metrics']:
        raise ValueError(f'cannot restore {run_dir}: the record from {source} has no '
                         "'metrics' with an 'AP'")
    atomic_write_json(osp.join(run_dir, 'record.json'),
                      dict(record, reused_from=record.get('reused_from') or source))
    return True


def recorded_runs(arms: Iterable[str], seeds: Iterable[int], work_dir: str,
                  guarded: Iterable[str] = (), settings_key: str = '',
                  settings: Optional[Dict] = None
                  ) -> Callable[[Dict], Iterable[Tuple[str, Dict]]]:
    """A :func:`restore_runs` selector over a results file's ``runs`` (arm -> records with
    ``seed``): the runs of ``arms`` and ``seeds`` as (``work_dir/<arm>_seed<S>``, record).
    The ``guarded`` arms are restored only when the file's ``settings_key`` entry equals
    ``settings`` (runs made by another recipe are trained again; a line says so).

    Args:
        arms: arm names to restore.
        seeds: training seeds to restore.
        work_dir: where the run folders go.
        guarded: arms whose runs depend on ``settings``.
        settings_key: the results file's key that records those settings.
        settings: this run's settings.
    """
    arms, seeds, guarded = list(arms), set(seeds), set(guarded)

    def select(results):
        same = results.get(settings_key) == settings
        for arm in arms:
            if arm in guarded and not same:
                print(f'{arm}: recorded with other {settings_key or "settings"}; not restored',
                      flush=True)
                continue
            for run in results['runs'].get(arm, []):
                record = dict(run)
                seed = record.pop('seed')
                if seed in seeds:
                    yield osp.join(work_dir, f'{arm}_seed{seed}'), record
    return select


def restore_runs(results_file: str,
                 runs_of: Callable[[Dict], Iterable[Tuple[str, Dict]]]) -> int:
    """Counts the runs of an earlier results file as finished (:func:`restore_record`) where
    their folders hold no record; returns how many were restored.

    Args:
        results_file: a bench's results JSON holding per-run records.
        runs_of: the loaded JSON -> ``(run_dir, record)`` pairs of the runs wanted; a
            ``KeyError`` / ``TypeError`` / ``AttributeError`` in it means the file is of
            another kind.
    """
    try:
        with open(results_file) as f:
            results = json.load(f)
        runs = list(runs_of(results))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise SystemExit(f'--restore-from {results_file}: no per-run records of this bench '
                         f'({err!r}); pass the JSON this bench wrote with --out') from err
    meta = results.get('meta', results)
    source = (f'{osp.relpath(osp.abspath(results_file))} ({meta.get("command")}, '
              f'{meta.get("date")})')
    restored = 0
    for run_dir, record in runs:
        if restore_record(run_dir, record, source):
            print(f'[{osp.basename(run_dir)}] restored from {source}', flush=True)
            restored += 1
    return restored


def search_and_export(config: str, seed: int, data_root: str, work_dir: str,
                      echo: bool = False, options: Iterable[str] = (),
                      resume: bool = False) -> Dict:
    """Runs the search tool on ``config`` (or reuses a finished search in ``work_dir``).

    Args:
        config: a search config (a detector config with a ``search`` section).
        seed: the search seed.
        data_root: demo-style data folder.
        work_dir: the search's work dir (outputs in ``work_dir/search``).
        echo: stream the search log to stdout.
        options: more ``--cfg-options`` (``KEY=VALUE``), e.g. a budget constraint.
        resume: pass ``--resume`` (a finished supernet in ``work_dir`` is then reused).

    Returns:
        ``search_summary.json`` plus ``wall_s`` (seconds of the search tool's run, or the
        search's own clock for a reused run) and ``chosen_config`` (the exported config).
    """
    summary_file = osp.join(work_dir, 'search', 'search_summary.json')
    wall_file = osp.join(work_dir, 'search_wall.json')
    if not osp.isfile(summary_file):
        os.makedirs(work_dir, exist_ok=True)
        wall = run_logged(tool_command('search', config, '--seed', seed, '--work-dir',
                                       work_dir, '--cfg-options',
                                       *data_root_options(data_root), *options,
                                       *(['--resume'] if resume else [])),
                          osp.join(work_dir, 'search_run.log'), echo)
        with open(wall_file, 'w') as f:
            json.dump(dict(wall_s=round(wall, 1)), f)
    with open(summary_file) as f:
        summary = json.load(f)
    if osp.isfile(wall_file):
        with open(wall_file) as f:
            summary['wall_s'] = json.load(f)['wall_s']
    else:
        summary['wall_s'] = round(summary['timings']['total_s'], 1)
    summary['chosen_config'] = summary['exported']['config']
    return summary
