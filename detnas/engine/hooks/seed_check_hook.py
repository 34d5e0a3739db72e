"""Fails training early when a ``detnas://`` seed does not fit the backbone it initialises."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmdet.registry import HOOKS

from ...checkpoints.sources import SCHEME, load_seed
from ...utils.checkpoint import CheckpointMismatchError
from ...utils.preflight import seed_mismatch


@HOOKS.register_module()
class SeedCheckHook(Hook):
    """Checks every ``init_cfg=dict(type='Pretrained', checkpoint='detnas://...')``.

    mmengine's ``Pretrained`` init only warns when keys do not match, so a wrong seed would
    train silently from random init. This hook compares the converted seed with the module
    it was meant for, before the first iteration, and raises
    :class:`CheckpointMismatchError` naming the module, the seed and the keys. It does
    nothing when the run loads or resumes a full checkpoint instead.

    Args:
        strict: raise on a mismatch (otherwise only log it).
    """

    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = True):
        self.strict = strict

    def before_train(self, runner) -> None:
        if runner.cfg.get('load_from') or runner.cfg.get('resume'):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for name, module in model.named_modules():
            cfgs = getattr(module, 'init_cfg', None) or []
            for cfg in cfgs if isinstance(cfgs, list) else [cfgs]:
                ckpt = cfg.get('checkpoint', '') if isinstance(cfg, dict) else ''
                if cfg.get('type') != 'Pretrained' or not str(ckpt).startswith(SCHEME):
                    continue
                msg = seed_mismatch(ckpt, name, module, load_seed(ckpt).backbone)
                if not msg:
                    runner.logger.info(f'seed {ckpt} matches {name or "model"} '
                                       f'({type(module).__name__}) key for key')
                    continue
                if self.strict:
                    raise CheckpointMismatchError(msg)
                runner.logger.warning(msg)
