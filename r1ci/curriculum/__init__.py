"""Which training samples GRPO may draw at each step: none | staged | difficulty | online (conf/curriculum)."""

from __future__ import annotations

from typing import Any

from r1ci.curriculum.potential import (OnlineSchedule, load_potential, staged_by_difficulty,
                                      staged_by_potential)
from r1ci.curriculum.sampler import AllSamples, Schedule


def build_schedule(cfg: Any, items: list) -> Schedule:
    """The configured curriculum over `items`; staged/difficulty read p from `curriculum.potential_dir`."""
    c = cfg.curriculum
    if c.kind == "none":
        return AllSamples(len(items))
    if c.kind in ("staged", "difficulty"):
        if not c.potential_dir:
            raise ValueError(f"curriculum={c.kind} needs curriculum.potential_dir=<a stage=potential run dir>")
        build = staged_by_potential if c.kind == "staged" else staged_by_difficulty
        return build(load_potential(c.potential_dir, items), c.n_stages, c.steps_per_stage, seed=cfg.seed)
    initial = load_potential(c.potential_dir, items) if c.potential_dir else None
    return OnlineSchedule(len(items), c.n_stages, c.regroup_every, initial, seed=cfg.seed)


__all__ = ["build_schedule"]
