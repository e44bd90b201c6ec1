"""The LR schedule as a pure function: hand-computed values, and the paper's SFT settings composed."""

from __future__ import annotations

import itertools
import math

import pytest

from r1ci.config import compose
from r1ci.training.schedule import lr_at, warmup_steps_for


def cosine(step: int) -> float:
    return lr_at(step, peak_lr=1e-5, total_steps=10, warmup_steps=2, kind="cosine")


def test_warmup_is_linear_and_starts_above_zero():
    assert cosine(0) == pytest.approx(1e-5 / 3)
    assert cosine(1) == pytest.approx(2e-5 / 3)
    assert cosine(2) == pytest.approx(1e-5)  # first step after warmup: the peak


def test_cosine_decays_to_zero_one_step_after_the_end():
    assert cosine(6) == pytest.approx(0.5e-5)  # half way through the 8 decay steps
    assert cosine(9) == pytest.approx(0.5e-5 * (1 + math.cos(math.pi * 7 / 8)))
    assert cosine(10) == pytest.approx(0.0, abs=1e-20)
    values = [cosine(s) for s in range(2, 10)]
    assert all(a > b for a, b in itertools.pairwise(values)) and values[-1] > 0


def test_constant_schedule_and_min_lr():
    assert [lr_at(s, peak_lr=1e-6, total_steps=5, warmup_steps=0, kind="constant") for s in range(5)] == [1e-6] * 5
    assert lr_at(10, peak_lr=1.0, total_steps=10, warmup_steps=0, kind="cosine", min_lr=0.1) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        lr_at(0, peak_lr=1.0, total_steps=1, warmup_steps=0, kind="linear")


def test_warmup_steps_from_ratio():
    assert warmup_steps_for(100, 0.1) == 10
    assert warmup_steps_for(6, 0.1) == 1  # rounds up: a short run still warms up
    assert warmup_steps_for(50, 0.0) == 0


def test_sft_stage_composes_the_papers_sft_settings():
    t = compose(["stage=sft", "model=qwen2.5-7b"]).sft
    assert (t.lr, t.lr_schedule, t.warmup_ratio, t.epochs, t.global_batch_size) == (1e-5, "cosine", 0.1, 3, 32)
    assert t.gradient_accumulation_steps == 1  # 32 = 2 per GPU x 16 GPUs
    assert t.backend == "deepspeed"
