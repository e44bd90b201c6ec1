"""The learning-rate schedule as a pure function of the step (style.md #9, nanoGPT train.py 230-242).

No scheduler object holds hidden state: the loop asks `lr_at(step, ...)` for the rate of the optimiser
step it is about to take and hands it to `TrainEngine.step(lr)`. Resuming is exact because the step
number is all the state there is.
"""

from __future__ import annotations

import math

SCHEDULES = ("cosine", "constant")


def warmup_steps_for(total_steps: int, warmup_ratio: float) -> int:
    """Warmup length as LLaMA-Factory/HF derive it from `warmup_ratio` (paper SFT: 0.1 of all steps)."""
    return math.ceil(total_steps * warmup_ratio)


def lr_at(step: int, *, peak_lr: float, total_steps: int, warmup_steps: int, kind: str,
          min_lr: float = 0.0) -> float:
    """Learning rate of optimiser step `step` (0-based): linear warmup, then cosine decay or constant.

    Warmup is `peak * (step + 1) / (warmup + 1)` so the first step already moves (nanoGPT's choice; HF
    starts at exactly 0, a wasted step). Cosine then decays from `peak_lr` towards `min_lr` (0: HF's
    cosine, which the paper's LLaMA-Factory setup uses) and reaches it one step after the last.
    """
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule {kind!r}; expected one of {SCHEDULES}")
    if step < warmup_steps:
        return peak_lr * (step + 1) / (warmup_steps + 1)
    if kind == "constant":
        return peak_lr
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak_lr - min_lr)
