"""Improvement potential and the stage partition (paper: "Curriculum by improvement potential").

Pi = 4 p (1 - p) is the variance of a binary reward scaled to [0, 1]: it scales the GRPO gradient, so
samples the model always or never solves (p = 1 or 0) carry no signal.
"""

from __future__ import annotations

from collections.abc import Sequence


def improvement_potential(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"success rate must be in [0, 1], got {p}")
    return 4.0 * p * (1.0 - p)


def partition(keys: Sequence[float], n_stages: int) -> list[list[int]]:
    """Split sample indices into `n_stages` groups of (near-)equal size, highest key first.

    Ties keep index order (a stable sort), so the partition is deterministic; group sizes differ by at
    most one, the larger groups first. With Pi as key, group 1 holds the highest-potential samples.
    """
    if n_stages < 1:
        raise ValueError("n_stages must be >= 1")
    order = sorted(range(len(keys)), key=lambda i: -keys[i])
    base, extra = divmod(len(order), n_stages)
    groups, start = [], 0
    for k in range(n_stages):
        size = base + (1 if k < extra else 0)
        groups.append(order[start:start + size])
        start += size
    return groups


class StagedSchedule:
    """Stage k (0-based) draws from groups 0..k (cumulative release); the last stage runs until the end."""

    def __init__(self, groups: list[list[int]], steps_per_stage: int):
        if steps_per_stage < 1:
            raise ValueError("steps_per_stage must be >= 1")
        self.groups, self.steps_per_stage = groups, steps_per_stage
        self._pools = [sorted(i for g in groups[:k + 1] for i in g) for k in range(len(groups))]

    def stage_at(self, step: int) -> int:
        return min(step // self.steps_per_stage, len(self.groups) - 1)

    def drawable(self, step: int) -> tuple[int, list[int]]:
        stage = self.stage_at(step)
        return stage, self._pools[stage]

    def stage_start(self, stage: int) -> int:
        return stage * self.steps_per_stage


def staged_by_potential(p: Sequence[float], n_stages: int, steps_per_stage: int) -> StagedSchedule:
    """The paper's curriculum: highest improvement potential first."""
    return StagedSchedule(partition([improvement_potential(x) for x in p], n_stages), steps_per_stage)


def staged_by_difficulty(p: Sequence[float], n_stages: int, steps_per_stage: int) -> StagedSchedule:
    """The paper's weaker alternative: easiest (highest p) first, hardest last."""
    return StagedSchedule(partition(list(p), n_stages), steps_per_stage)
