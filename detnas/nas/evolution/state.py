"""The search's resumable state and its atomic JSON file.

Written after every generation: temp file in the same folder, ``fsync``, ``os.replace``, so
a kill at any moment leaves either the previous or the new complete file, never a torn one.
The file holds everything the continuation needs to repeat an uninterrupted run exactly:
population, every scored candidate (the cache), the generator state, generation index,
history and a fingerprint of the settings the run was started with.
"""
import json
import os.path as osp
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List

from detnas.utils.errors import DetnasInputError
from detnas.utils.io import atomic_write_json

STATE_FILENAME = 'search_state.json'
STATE_VERSION = 1


def encode_rng(rng: random.Random) -> Dict[str, Any]:
    """``random.Random`` state as JSON-friendly data.

    Args:
        rng: the generator.
    """
    version, internal, gauss_next = rng.getstate()
    return dict(version=version, internal=list(internal), gauss_next=gauss_next)


def decode_rng(data: Dict[str, Any]) -> random.Random:
    """A generator restored from :func:`encode_rng` output.

    Args:
        data: the encoded state.
    """
    rng = random.Random()
    rng.setstate((data['version'], tuple(data['internal']), data['gauss_next']))
    return rng


@dataclass
class SearchState:
    """Everything a search needs to continue exactly where it stopped.

    Args:
        fingerprint: the settings the run was started with (seed, sizes, objectives, ...).
        generation: index of the last completed generation (0: initial population).
        rng: encoded generator state after that generation.
        population: current population, candidates as gene lists.
        records: every scored candidate: ``candidate``, ``metrics``, ``violation`` and
            ``generation`` (when it was first scored).
        history: one summary dict per completed generation.
    """
    fingerprint: Dict[str, Any]
    generation: int
    rng: Dict[str, Any]
    population: List[List[int]]
    records: List[Dict[str, Any]]
    history: List[Dict[str, Any]] = field(default_factory=list)

    def save(self, folder: str) -> str:
        """Writes the state atomically to ``folder/search_state.json``; returns the path.

        Args:
            folder: the search output folder.
        """
        path = osp.join(folder, STATE_FILENAME)
        atomic_write_json(path, dict(version=STATE_VERSION, **asdict(self)))
        return path

    @classmethod
    def load(cls, path: str) -> 'SearchState':
        """Reads a state file (or ``folder/search_state.json`` when given a folder).

        Args:
            path: the state file or the folder holding it.
        """
        if osp.isdir(path):
            path = osp.join(path, STATE_FILENAME)
        if not osp.isfile(path):
            raise DetnasInputError(f'resume: no search state at {path}; start without '
                                   '--resume or point --resume at a search folder.')
        hint = ('delete it to start the search afresh, or point --resume at another search '
                'folder')
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DetnasInputError(f'resume: search state {path} is corrupt or truncated '
                                   f'({exc}); {hint}.') from None
        fields = ('fingerprint', 'generation', 'rng', 'population', 'records', 'history')
        if not isinstance(data, dict) or any(key not in data for key in fields):
            missing = [k for k in fields if not isinstance(data, dict) or k not in data]
            raise DetnasInputError(f'resume: search state {path} lacks {missing}; it is not '
                                   f'a complete detnas search state; {hint}.')
        if data.get('version') != STATE_VERSION:
            raise DetnasInputError(f'resume: search state {path} has version '
                                   f'{data.get("version")!r}, this detnas writes '
                                   f'{STATE_VERSION}; {hint}.')
        try:
            state = cls(**{k: data[k] for k in fields})
            decode_rng(state.rng)
        except (TypeError, KeyError, ValueError) as exc:
            raise DetnasInputError(f'resume: search state {path} has a malformed generator '
                                   f'state ({exc}); {hint}.') from None
        return state
