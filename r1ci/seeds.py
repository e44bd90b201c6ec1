"""Every seed the method derives, in one place, so that reruns, resumes and any number of ranks draw the
same items and the same tokens.

- `hashed_seed`: a stable seed per named thing (a task's train or test draw, an eval sample). A hash, not
  an index, so adding a task or an item leaves every other draw as it was.
- `grid_seed`: a job's row-major place in a grid (RL: step x prompt x answer; synthesis: item x style x
  sample), so the seed follows the job, not the rank or the order it runs in.
- `turn_seed`: turn t of a trajectory seeded s samples with s * TURN_SEEDS + t, so every turn samples
  afresh and a resumed run draws the same tokens.
- `seed_everything`: the global RNGs (random, numpy, torch) at a stage's start.
"""

from __future__ import annotations

import hashlib
import random
from typing import Sequence

TURN_SEEDS = 64  # turns of one trajectory that get distinct seeds


def hashed_seed(*parts: object) -> int:
    """A 32-bit seed from the parts' text ("0/gcd/train"): stable across processes and Python versions."""
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def sample_seed(seed: int, key: str, sample: int) -> int:
    """A 31-bit sampling seed per (run seed, item key, sample): independent of item order and mix."""
    return hashed_seed(seed, key, sample) >> 1


def grid_seed(index: Sequence[int], sizes: Sequence[int]) -> int:
    """The row-major position of `index` in a grid whose axes after the first have `sizes` (the first is
    unbounded): grid_seed((step, k, j), (B, G)) = (step * B + k) * G + j."""
    if len(index) != len(sizes) + 1:
        raise ValueError(f"index {tuple(index)} needs one more axis than sizes {tuple(sizes)}")
    seed = index[0]
    for i, n in zip(index[1:], sizes):
        seed = seed * n + i
    return seed


def turn_seed(seed: int, turn: int) -> int:
    return seed * TURN_SEEDS + turn


def split_turn_seed(seed: int) -> tuple[int, int]:
    """(trajectory seed, turn): what `turn_seed` combined (scripted engines replay by it)."""
    return divmod(seed, TURN_SEEDS)


def seed_everything(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # torch is optional for data-only stages
        pass
