"""End-of-step bookkeeping shared by the SFT and GRPO loops: checkpoint when due, checkpoint and requeue
on SLURM's preemption/timeout signal (r1ci/requeue.py), and the kill hook the resume tests use."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from r1ci import requeue
from r1ci.logging import finish_wandb
from r1ci.training.engine import TrainEngine

# Test hook (env, so it leaves the run id alone): SIGKILL this process right after step N completes
# (and after its checkpoint when one is due), as a preemption or OOM kill would.
KILL_ENV = "R1CI_KILL_AFTER_STEP"


def end_of_step(engine: TrainEngine, ckpt_root: Path, step: int, *, is_last: bool, save_every: int,
                state: dict[str, Any], wandb_run: Any) -> None:
    stop = requeue.stop_requested()  # collective: every rank stops at the same step
    if step % save_every == 0 or is_last or stop:
        engine.save_checkpoint(ckpt_root, step, state)
    if stop:
        finish_wandb(wandb_run)
        requeue.requeue_and_exit()
    if step == int(os.environ.get(KILL_ENV, "0")):
        os.kill(os.getpid(), signal.SIGKILL)
