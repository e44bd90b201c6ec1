"""End-of-step bookkeeping shared by the SFT and GRPO loops: checkpoint when due, checkpoint and requeue
on SLURM's preemption/timeout signal (r1ci/requeue.py), and the resume tests' kill point after a step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1ci import requeue
from r1ci.tracking import finish_wandb
from r1ci.training.engine import TrainEngine
from r1ci.training.faults import kill_point, pause_point

def end_of_step(engine: TrainEngine, ckpt_root: Path, step: int, *, is_last: bool, save_every: int,
                state: dict[str, Any], wandb_run: Any) -> None:
    stop = requeue.stop_requested()  # collective: every rank stops at the same step
    if step % save_every == 0 or is_last or stop:
        engine.save_checkpoint(ckpt_root, step, state)
    if stop:
        finish_wandb(wandb_run)
        requeue.requeue_and_exit()
    kill_point("after", step)
    pause_point(step)
