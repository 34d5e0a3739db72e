"""detnas: backbone adaptation search and detection components for MMDetection 3.x."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    scope = {}
    with open(os.path.join(HERE, 'detnas', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='detnas',
    version=read_version(),
    description='Adapt ImageNet-pretrained backbones to detection by search with weight '
    'mapping; modern detection components for MMDetection',
    packages=find_packages(exclude=('tests', 'tools', 'bench', 'configs')),
    python_requires='>=3.10',
    install_requires=[
        'torch==2.13.0', 'mmengine==0.10.7', 'mmcv==2.1.0', 'mmdet==3.3.0', 'numpy',
        'pycocotools', 'faster-coco-eval', 'scikit-image', 'scikit-learn', 'matplotlib'
    ],
    zip_safe=False,
)
