"""A search resolved once from its config: :class:`SearchPlan`.

Everything the stages need that the config determines is read and validated here, before
anything runs: the settings, the seed detector config and its supernet config, the bound
family (space parsed once), the training annotations, the test pipeline, the held-out
split's dataset configs and the supernet's training config.
"""
import copy
import os.path as osp
from dataclasses import dataclass

import torch
from mmengine.config import Config

from detnas.utils.errors import DetnasInputError
from ..families import SearchFamily
from .settings import SearchSettings
from .supernet_config import build_supernet_config, supernet_family

SEARCH_DIR = 'search'


def train_ann_path(cfg: Config) -> str:
    """The training annotation file of a detector config (``data_root`` joined).

    Raises:
        DetnasInputError: ``train_dataloader.dataset`` has no ``ann_file``.
    """
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    ann = dataset.get('ann_file') if isinstance(dataset, dict) else None
    if not ann:
        raise DetnasInputError('train_dataloader.dataset.ann_file is missing; the search needs '
                               'a COCO-style training set (dataset wrappers are not supported)')
    root = dataset.get('data_root') or ''
    return ann if osp.isabs(ann) else osp.join(root, ann)


def test_pipeline(cfg: Config) -> list:
    """The deterministic (test) pipeline of the config's val or test loader.

    Raises:
        DetnasInputError: neither loader has a pipeline.
    """
    for key in ('val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('dataset', {}).get('pipeline'):
            return copy.deepcopy(loader['dataset']['pipeline'])
    raise DetnasInputError('the config has no val_dataloader.dataset.pipeline; the search '
                           'scores candidates through the test pipeline')


def supernet_schedulers(cfg: Config, settings: SearchSettings) -> list:
    """The supernet's LR schedule: ``search.supernet.param_scheduler`` or the seed's with
    epoch-based ends (and a cosine's ``T_max``) cut to the supernet's epochs."""
    if settings.supernet.param_scheduler is not None:
        return copy.deepcopy(settings.supernet.param_scheduler)
    epochs = settings.supernet.max_epochs
    schedulers = cfg.get('param_scheduler') or []
    schedulers = [schedulers] if isinstance(schedulers, dict) else list(schedulers)
    out = []
    for s in schedulers:
        s = copy.deepcopy(s.to_dict() if hasattr(s, 'to_dict') else dict(s))
        if s.get('by_epoch', True):
            if 'end' in s:
                s['end'] = min(s['end'], epochs)
            if 'T_max' in s:
                s['T_max'] = s.get('end', epochs) - s.get('begin', 0)
            if s.get('begin', 0) >= s.get('end', epochs + 1):
                continue
        out.append(s)
    return out


@dataclass(frozen=True)
class SearchPlan:
    """A search resolved from its config (build it with :meth:`from_config`).

    Args:
        settings: the validated ``search`` section.
        seed_cfg: the seed detector config (the search config without ``search``).
        supernet_cfg: its supernet detector config.
        family: the bound family of the supernet backbone.
        work_dir: the search's work dir; outputs go to ``work_dir/search``.
        seed: seed of the split, the sandwich sampling, the runner and the evolution.
        resume: continue supernet training and the evolution from their saved state.
        launcher: ``'none'`` or ``'pytorch'``.
        train_ann_file: the config's training annotations (the split's source).
        test_pipeline: the deterministic pipeline candidates are scored through.
    """
    settings: SearchSettings
    seed_cfg: Config
    supernet_cfg: Config
    family: SearchFamily
    work_dir: str
    seed: int
    resume: bool
    launcher: str
    train_ann_file: str
    test_pipeline: list

    @classmethod
    def from_config(cls, cfg: Config, work_dir: str, seed: int = 0, resume: bool = False,
                    launcher: str = 'none') -> 'SearchPlan':
        """Reads and validates everything a search needs from its config.

        Args:
            cfg: a seed detector config plus a ``search`` section.
            work_dir: ``work_dirs/<name>``.
            seed: the search seed.
            resume: continue from saved state.
            launcher: ``'none'`` or ``'pytorch'``.

        Raises:
            DetnasInputError: bad settings, a seed the family cannot adapt, a space the seed
                does not fit, an unknown op, a missing training set or test pipeline.
        """
        settings = SearchSettings.from_config(cfg)
        seed_cfg = Config(copy.deepcopy(cfg.to_dict()))
        seed_cfg.pop('search')
        seed_cfg.pop('work_dir', None)
        supernet_cfg = build_supernet_config(seed_cfg, settings.space)
        return cls(settings, seed_cfg, supernet_cfg, supernet_family(supernet_cfg), work_dir,
                   seed, bool(resume), launcher, train_ann_path(cfg), test_pipeline(cfg))

    # ------------------------------------------------------------------ paths
    @property
    def search_dir(self) -> str:
        """Where every output of the search goes."""
        return osp.join(self.work_dir, SEARCH_DIR)

    @property
    def supernet_dir(self) -> str:
        """The supernet Runner's work dir."""
        return osp.join(self.search_dir, 'supernet')

    @property
    def supernet_checkpoint(self) -> str:
        """The checkpoint a finished supernet training leaves."""
        return osp.join(self.supernet_dir, f'epoch_{self.settings.supernet.max_epochs}.pth')

    # ------------------------------------------------------------------ derived configs
    def split_dataset_cfg(self, ann_file: str) -> dict:
        """The training dataset config on one split file, with the test pipeline."""
        dataset = copy.deepcopy(self.seed_cfg.train_dataloader.dataset.to_dict())
        dataset.update(ann_file=ann_file, pipeline=copy.deepcopy(self.test_pipeline),
                       test_mode=True)
        dataset.pop('filter_cfg', None)
        return dataset

    def supernet_train_cfg(self, train_ann_file: str) -> Config:
        """The Runner config that trains the supernet on the search-train split (no val)."""
        cfg = Config(copy.deepcopy(self.supernet_cfg.to_dict()))
        cfg.work_dir = self.supernet_dir
        cfg.launcher = self.launcher
        cfg.train_dataloader.dataset.ann_file = train_ann_file
        sup = self.settings.supernet
        cfg.train_cfg = dict(type='SandwichTrainLoop', max_epochs=sup.max_epochs,
                             num_random=sup.num_random, seed=self.seed,
                             distill_weight=sup.distill_weight)
        for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader',
                    'test_cfg', 'test_evaluator'):
            cfg[key] = None
        cfg.param_scheduler = supernet_schedulers(self.supernet_cfg, self.settings)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1,
                                            max_keep_ckpts=2, save_best=None)
        cfg.randomness = dict(seed=self.seed)
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                     find_unused_parameters=True)  # narrow sub-nets skip some
        if not torch.cuda.is_available():  # CPU DDP takes no device_ids (see prepare_runtime)
            cfg.model_wrapper_cfg.update(device_ids=None, broadcast_buffers=False)
        cfg.resume, cfg.load_from = self.resume, None
        return cfg
