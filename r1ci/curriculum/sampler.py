"""Which prompts a GRPO step draws: a pure function of the step, so a resumed run draws the same ones.

The curriculum (issue "curriculum") decides which samples are drawable at each step; the sampler walks
a seeded permutation of that set, epoch after epoch, starting afresh whenever the drawable set changes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Schedule(Protocol):
    def drawable(self, step: int) -> tuple[int, list[int]]:
        """(stage, sample indices drawable at `step`); the stage changes when the set does."""

    def stage_start(self, stage: int) -> int:
        """First step of `stage`."""


class AllSamples:
    """No curriculum (the paper's baseline): every sample is drawable at every step."""

    def __init__(self, n_samples: int):
        self.n = n_samples

    def drawable(self, step: int) -> tuple[int, list[int]]:
        return 0, list(range(self.n))

    def stage_start(self, stage: int) -> int:
        return 0


def batch_indices(schedule: Schedule, step: int, batch_size: int, seed: int) -> list[int]:
    """Sample indices for `step`: positions [k*B, (k+1)*B) of the stage's endless seeded permutation."""
    stage, pool = schedule.drawable(step)
    if not pool:
        raise ValueError(f"no drawable samples at step {step}")
    k = step - schedule.stage_start(stage)
    out: list[int] = []
    pos = k * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(pos, len(pool))
        order = np.random.default_rng([seed, stage, epoch]).permutation(len(pool))
        take = min(batch_size - len(out), len(pool) - offset)
        out += [pool[i] for i in order[offset:offset + take]]
        pos += take
    return out
