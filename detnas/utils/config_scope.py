"""The ``detnas::`` config scope: ``_base_ = 'detnas::baselines/retinanet_mbv2_fpn_demo.py'``
works from any directory once ``detnas`` is imported (every detnas tool imports it first).

mmengine resolves ``SCOPE::PATH`` to ``<installed package>/.mim/configs/PATH`` when the scope
is in its ``MODULE2PACKAGE`` table (mmdet's ``.mim`` convention). The configs ship inside the
package as ``detnas/.mim/configs`` (a link to the checkout's ``configs/``, copied into the
wheel). mmengine finds the installed folder through the distribution's location, which is
site-packages even for an editable install; the folder of the imported package is the right
one in both cases, so it is answered for ``detnas`` and every other package is left to
mmengine.
"""
import os.path as osp

SCOPE = 'detnas'
PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def configs_dir() -> str:
    """The folder that ``detnas::PATH`` names resolve in (``detnas/.mim/configs``)."""
    return osp.join(PACKAGE_DIR, '.mim', 'configs')


def register_config_scope() -> None:
    """Adds ``detnas`` to mmengine's scope table and its installed-path lookup (idempotent)."""
    import mmengine.config.config as config_module
    from mmengine.config.utils import MODULE2PACKAGE
    MODULE2PACKAGE.setdefault(SCOPE, SCOPE)
    lookup = config_module.get_installed_path
    if getattr(lookup, 'detnas_scope', False):
        return

    def installed_path(package: str) -> str:
        return PACKAGE_DIR if package == SCOPE else lookup(package)

    installed_path.detnas_scope = True
    config_module.get_installed_path = installed_path
