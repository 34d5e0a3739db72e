"""detnas: backbone adaptation search and detection components for MMDetection 3.x."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    scope = {}
    with open(os.path.join(HERE, 'detnas', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def ddf_extensions():
    """Build config of ``detnas.ops._C`` (the dilated-deformable fusion op).

    The CPU kernel is always built (a CppExtension). The CUDA kernels are added when the
    installed torch has CUDA and nvcc is found, unless ``DETNAS_WITH_CUDA=0``. Without torch
    at build time, or with ``DETNAS_WITH_OP=0``, the op is skipped and ``detnas.ops`` falls back
    to its PyTorch reference.
    """
    if os.environ.get('DETNAS_WITH_OP', '1') == '0':
        print('detnas: DETNAS_WITH_OP=0; skipping the C++ op (the PyTorch reference runs)')
        return [], {}
    try:
        from torch.utils.cpp_extension import (CUDA_HOME, BuildExtension, CppExtension,
                                               CUDAExtension)
        import torch
    except ImportError:
        print('detnas: torch not importable at build time; skipping the C++ op '
              '(install with --no-build-isolation to build it)')
        return [], {}
    csrc = os.path.join('detnas', 'ops', 'csrc')
    sources = [os.path.join(csrc, 'ddf_op.cpp'), os.path.join(csrc, 'cpu', 'ddf_cpu.cpp')]
    cxx_flags = ['-O3']
    want_cuda = os.environ.get('DETNAS_WITH_CUDA', '1') != '0'
    if want_cuda and torch.version.cuda is not None and CUDA_HOME is not None:
        sources += [
            os.path.join(csrc, 'cuda', 'ddf_cuda.cpp'),
            os.path.join(csrc, 'cuda', 'ddf_kernels.cu')
        ]
        ext = CUDAExtension(
            'detnas.ops._C',
            sources,
            extra_compile_args={
                'cxx': cxx_flags,
                'nvcc': ['-O3', '-lineinfo']
            })
    else:
        ext = CppExtension('detnas.ops._C', sources, extra_compile_args={'cxx': cxx_flags})
    return [ext], {'build_ext': BuildExtension}


def read_requirements(name):
    """The requirements listed in ``requirements/<name>``, comments dropped (the sdist
    ships the folder: MANIFEST.in)."""
    lines = []
    with open(os.path.join(HERE, 'requirements', name)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                lines.append(line)
    return lines


EXT_MODULES, CMDCLASS = ddf_extensions()


setup(
    name='detnas',
    version=read_version(),
    description='Adapt ImageNet-pretrained backbones to detection by search with weight '
    'mapping; modern detection components for MMDetection',
    license='Apache-2.0',
    packages=find_packages(exclude=('tests', 'tools', 'bench', 'configs')),
    # the configs inside the package (mmdet's .mim convention: `detnas::` bases); in the
    # checkout detnas/.mim/configs links to configs/, in the wheel it is a copy
    package_data={'detnas': ['.mim/model-index.yml', '.mim/configs/**/*.py',
                             '.mim/configs/**/*.md']},
    python_requires='>=3.10',
    install_requires=[
        'torch==2.13.0', 'mmengine==0.10.7', 'mmcv==2.1.0', 'mmdet==3.3.0', 'numpy',
        'pycocotools', 'faster-coco-eval', 'scikit-image', 'scikit-learn', 'matplotlib'
    ],
    # pip install detnas[deploy]: ONNX export (tools/deploy/export_onnx.py)
    extras_require={'deploy': read_requirements('deploy.txt'),
                    'tensorboard': read_requirements('tensorboard.txt')},
    entry_points={'console_scripts': ['detnas=detnas.tools:cli']},
    ext_modules=EXT_MODULES,
    cmdclass=CMDCLASS,
    zip_safe=False,
)
