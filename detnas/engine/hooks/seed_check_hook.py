"""Fails training early when a ``detnas://`` seed does not fit the backbone it initialises."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmdet.registry import HOOKS

from ...checkpoints.sources import SCHEME, load_seed
from ...utils.checkpoint import CheckpointMismatchError, compare_state_dicts


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
                mismatch = compare_state_dicts(module.state_dict(), load_seed(ckpt).backbone)
                if not mismatch:
                    runner.logger.info(f'seed {ckpt} matches {name or "model"} '
                                       f'({type(module).__name__}) key for key')
                    continue
                msg = (f'seed {ckpt} does not fit {name or "model"} '
                       f'({type(module).__name__}):\n{mismatch.describe()}\nUse a seed of the '
                       'same family and width, or set init_cfg=None to train from scratch.')
                if self.strict:
                    raise CheckpointMismatchError(msg)
                runner.logger.warning(msg)
