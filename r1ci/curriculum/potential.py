"""Improvement potential and the stage partition (paper: "Curriculum by improvement potential").

Pi = 4 p (1 - p) is the variance of a binary reward scaled to [0, 1]: it scales the GRPO gradient, so
samples the model always or never solves (p = 1 or 0) carry no signal.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from r1ci.tasks import TaskItem

POTENTIAL = "potential.jsonl"  # what stage=potential writes: one {item_id, p, ...} per line


def improvement_potential(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"success rate must be in [0, 1], got {p}")
    return 4.0 * p * (1.0 - p)


def partition(keys: Sequence[float], n_stages: int, *, seed: int) -> list[list[int]]:
    """Split sample indices into `n_stages` groups of (near-)equal size, highest key first.

    Ties are broken by a seeded random order, never by index: with N = 20 answers Pi takes only 11
    values, so group boundaries fall inside ties (above all at Pi = 0), and index order is manifest and
    source order. Group sizes differ by at most one, the larger groups first. With Pi as key, group 1
    holds the highest-potential samples.
    """
    if n_stages < 1:
        raise ValueError("n_stages must be >= 1")
    rank = list(range(len(keys)))
    random.Random(seed).shuffle(rank)
    order = sorted(range(len(keys)), key=lambda i: (-keys[i], rank[i]))
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


def staged_by_potential(p: Sequence[float], n_stages: int, steps_per_stage: int, seed: int = 0) -> StagedSchedule:
    """The paper's curriculum: highest improvement potential first."""
    return StagedSchedule(partition([improvement_potential(x) for x in p], n_stages, seed=seed), steps_per_stage)


def staged_by_difficulty(p: Sequence[float], n_stages: int, steps_per_stage: int, seed: int = 0) -> StagedSchedule:
    """The paper's weaker alternative: easiest (highest p) first, hardest last."""
    return StagedSchedule(partition(list(p), n_stages, seed=seed), steps_per_stage)


class OnlineSchedule:
    """Re-estimate p from the RL rollouts themselves and regroup every `regroup_every` steps (ours).

    Round r (steps [r K, (r+1) K)) draws from the top group of `partition(Pi, n_stages)`, with Pi from
    the running success counts; a sample not yet seen counts as p = 0.5 (the highest potential), so
    unseen samples are tried before the known ones are re-drawn. Round 0 draws from the whole set, or
    from the top group of `initial_p` (a stage=potential estimate) when given. The counts and the
    current pool are checkpoint state (`state_dict`), so a resumed run draws what an uninterrupted one would.
    """

    def __init__(self, n_samples: int, n_stages: int, regroup_every: int, initial_p: Sequence[float] | None = None,
                 seed: int = 0):
        if regroup_every < 1:
            raise ValueError("regroup_every must be >= 1")
        self.n, self.n_stages, self.every, self.seed = n_samples, n_stages, regroup_every, seed
        self.counts = [[0, 0] for _ in range(n_samples)]  # [answers seen, correct]
        self.round = 0
        self.pool = (sorted(partition([improvement_potential(x) for x in initial_p], n_stages, seed=seed)[0])
                     if initial_p is not None else list(range(n_samples)))

    def estimate(self) -> list[float]:
        return [c / n if n else 0.5 for n, c in self.counts]

    def drawable(self, step: int) -> tuple[int, list[int]]:
        target = step // self.every
        if target < self.round:
            raise ValueError(f"step {step} is in round {target}, before the current round {self.round}")
        if target > self.round:  # a boundary: regroup on everything observed so far
            potential = [improvement_potential(p) for p in self.estimate()]
            self.pool = sorted(partition(potential, self.n_stages, seed=self.seed + target)[0])
            self.round = target
        return self.round, self.pool

    def stage_start(self, stage: int) -> int:
        return stage * self.every

    def observe(self, sample: int, n: int, correct: int) -> None:
        """`n` more scored answers to `sample`, `correct` of them right."""
        self.counts[sample][0] += n
        self.counts[sample][1] += correct

    def state_dict(self) -> dict:
        return {"counts": self.counts, "round": self.round, "pool": self.pool}

    def load_state_dict(self, state: dict) -> None:
        self.counts, self.round, self.pool = state["counts"], state["round"], state["pool"]


def load_potential(potential_dir: str | Path, items: list[TaskItem]) -> list[float]:
    """p for each of `items` (stage=rl), from a potential run's potential.jsonl; fails on a missing sample."""
    path = Path(potential_dir) / POTENTIAL
    if not path.exists():
        raise FileNotFoundError(f"curriculum.potential_dir: {path} not found; run stage=potential first")
    p = {r["item_id"]: r["p"] for r in map(json.loads, path.read_text().splitlines())}
    missing = [it.id for it in items if it.id not in p]
    if missing:
        raise ValueError(f"curriculum.potential_dir: {path} has no p for {len(missing)} training samples "
                         f"(e.g. {missing[:3]}); estimate it on the same task mix and items")
    return [p[it.id] for it in items]
