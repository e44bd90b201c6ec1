"""Checkpoint, then requeue, on SLURM's timeout/preemption signal: one path for every stage (style.md #14).

hydra-submitit-launcher has SLURM send USR2 `signal_delay_s` before the time limit (`scancel
--signal=USR2 JOB` does the same by hand, as for a preemption). Submitit's handler then requeues at once,
wherever the stage is, and hydra-submitit's `checkpoint()` resubmits the same Hydra job unchanged. That is
right for stages that are cheap to redo (prepare_data, eval: they rerun in the same output dir), but a
trainer would lose everything since its last periodic checkpoint. A stage opts in to a fresh checkpoint:

    with requeue.deferred():                  # USR2 now only raises a flag
        for step in range(start_step, total_steps):
            train_step()
            if requeue.stop_requested():      # collective: every rank gets the same answer
                save_checkpoint(step)         # the stage's own full-state checkpoint
                finish_wandb(wb)              # flush the offline run before the job is killed
                requeue.requeue_and_exit()    # rank 0: submitit re-pickles + scontrol requeue; all exit

The requeued job composes the same config, hence the same run id, output dir and W&B run id (logging.py),
and the stage resumes from its last checkpoint. If the stage does not reach a step boundary within
`grace_s` (half of hydra.launcher.signal_delay_s), submitit's handler runs anyway: the job is still
requeued before SLURM kills it, and resumes from the last periodic checkpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, NoReturn

from r1ci.distributed import dist_info

log = logging.getLogger(__name__)


class _State:
    """What the deferred handler saw; module-level because signal handlers cannot take arguments."""

    def __init__(self) -> None:
        self.signum: int | None = None  # the signal received, None while none arrived
        self.previous: Any = signal.SIG_DFL  # submitit's handler (or whatever was installed before)
        self.timer: threading.Timer | None = None
        self.forced = False  # the grace time ran out: hand the signal to `previous` now


_state = _State()


def preempt_signal() -> signal.Signals:
    """The signal submitit asks SLURM for (USR2 unless SUBMITIT_PREEMPT_SIGNAL says otherwise)."""
    return signal.Signals["SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")]


def _default_grace_s() -> float | None:
    """Half of hydra.launcher.signal_delay_s: the other half is left for the save and the requeue."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    launcher = HydraConfig.get().launcher
    if "signal_delay_s" not in launcher:  # only submitit_slurm sends a signal before the time limit
        return None
    return launcher.signal_delay_s / 2


def _on_signal(signum: int, frame: Any) -> None:
    if _state.forced:  # re-sent by the grace timer: too late for a step boundary, requeue now
        _hand_over(signum, frame)
        return
    if _state.signum is None:
        name = signal.Signals(signum).name
        log.warning("got %s: will checkpoint and requeue at the next step boundary", name)
        _state.signum = signum
        grace = _default_grace_s()
        if grace is not None:
            _state.timer = threading.Timer(grace, _force, args=(signum,))
            _state.timer.daemon = True
            _state.timer.start()


def _force(signum: int) -> None:
    log.warning("no step boundary within the grace time: requeueing from the last checkpoint")
    _state.forced = True
    os.kill(os.getpid(), signum)  # handled on the main thread, where submitit's handler must run


def _hand_over(signum: int, frame: Any) -> None:
    """Run what was installed before us: submitit's checkpoint_and_try_requeue (it exits on rank 0)."""
    if callable(_state.previous):
        _state.previous(signum, frame)


@contextmanager
def deferred() -> Iterator[None]:
    """While inside, the preemption signal only sets a flag that `stop_requested()` reports."""
    global _state
    sig = preempt_signal()
    _state = _State()
    _state.previous = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        if _state.timer is not None:
            _state.timer.cancel()
        signal.signal(sig, _state.previous)


def signal_received() -> bool:
    """This process has got the preemption signal (no collective: see stop_requested for the agreed view)."""
    return _state.signum is not None


def stop_requested() -> bool:
    """True on every rank once any rank got the signal. Call it at the same step on all ranks."""
    stop = _state.signum is not None
    if dist_info().world_size > 1:
        import torch
        import torch.distributed as dist

        if dist.is_initialized():  # ranks may see the signal a step apart: agree, or collectives deadlock
            device = "cuda" if dist.get_backend() == "nccl" else "cpu"
            flag = torch.tensor([int(stop)], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
    if stop and _state.timer is not None:
        _state.timer.cancel()  # the stage is checkpointing now; no forced requeue in the middle of it
    if stop and _state.signum is None:
        _state.signum = int(preempt_signal())  # another rank got it
    return stop


def requeue_and_exit() -> NoReturn:
    """After the stage saved its checkpoint: rank 0 requeues the job through submitit; every rank exits."""
    info = dist_info()
    if info.world_size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()  # every rank has finished its part of the checkpoint
    signum = _state.signum if _state.signum is not None else int(preempt_signal())
    if info.is_main:
        _hand_over(signum, None)  # submitit: dump the same Hydra job, `scontrol requeue`, sys.exit(-1)
    # Not under submitit (or not rank 0): the checkpoint is saved; a rerun in the same dir resumes.
    log.warning("rank %d exiting after checkpoint (signal %s)", info.rank, signal.Signals(signum).name)
    sys.exit(-1)
