"""Spread a batch of candidate evaluations over torchrun ranks and gather the results.

Every rank runs the same deterministic search, so every rank holds the same candidate list;
rank ``r`` evaluates items ``r, r + W, r + 2W, ...`` (W = world size) and
``all_gather_object`` gives every rank all results in the original order. Without an
initialised process group all of this is a plain local call.
"""
from typing import Callable, List, Sequence, Tuple, TypeVar

import torch.distributed as dist

T = TypeVar('T')
R = TypeVar('R')


def rank_and_world_size() -> Tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` when not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def split_for_rank(items: Sequence[T], rank: int, world_size: int) -> List[T]:
    """This rank's share of ``items`` (round robin, so shares differ by at most one).

    Args:
        items: the full list, identical on every rank.
        rank: this process's rank.
        world_size: number of processes.
    """
    return list(items[rank::world_size])


def merge_rank_results(per_rank: Sequence[Sequence[R]]) -> List[R]:
    """Inverse of :func:`split_for_rank`: interleaves each rank's results into one list.

    Args:
        per_rank: ``per_rank[r]`` holds rank ``r``'s results in its share's order.
    """
    world_size = len(per_rank)
    total = sum(len(part) for part in per_rank)
    return [per_rank[i % world_size][i // world_size] for i in range(total)]


def evaluate_on_ranks(evaluate: Callable[[List[T]], List[R]], items: Sequence[T]) -> List[R]:
    """Evaluates ``items`` split over all ranks; every rank returns the full result list.

    Args:
        evaluate: evaluates a list of items on this rank, one result per item (results must
            be picklable).
        items: the full list, identical on every rank.
    """
    rank, world_size = rank_and_world_size()
    if world_size == 1:
        return list(evaluate(list(items)))
    local = list(evaluate(split_for_rank(items, rank, world_size)))
    gathered = [None] * world_size
    dist.all_gather_object(gathered, local)
    return merge_rank_results(gathered)
