"""Failure injection for the resume tests: kill the process at a named point of a training step, or hold
it after a step until the preemption signal arrives (so a test's signal lands at a known step).

It is driven by the environment, so the run's config (and its W&B run id) stays that of the real run.
"""

from __future__ import annotations

import os
import signal
import time

# Test hook (env, so it leaves the run id alone): `<phase>:<step>` SIGKILLs this process at that point of
# that 1-based step, as a preemption or OOM kill would. Phases: `rollout` (GRPO, after the step's first
# trajectory, the rest in flight), `update` (GRPO, after the first optimiser step, nothing saved),
# `checkpoint` (after the engine's files, before RNG, state and `latest`: a torn checkpoint), `after`
# (the step done and checkpointed when due).
KILL_ENV = "R1CI_KILL_AT"
PHASES = ("rollout", "update", "checkpoint", "after")


def kill_point(phase: str, step: int) -> None:
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    want, _, at = spec.partition(":")
    if want not in PHASES or not at.isdigit():
        raise ValueError(f"{KILL_ENV}={spec!r}: expected <phase>:<step> with phase in {PHASES}")
    if want == phase and int(at) == step:
        os.kill(os.getpid(), signal.SIGKILL)


# Test hook: `<step>` holds this process at the end of that 1-based step (after its checkpoint, if one was
# due) until SLURM's preemption signal has arrived. A preemption test waits for that checkpoint, then
# signals: the job stops at the next step boundary whatever the machine's load, never after its last step.
PAUSE_ENV = "R1CI_PAUSE_AFTER"


def pause_point(step: int) -> None:
    at = os.environ.get(PAUSE_ENV)
    if not at:
        return
    if not at.isdigit():
        raise ValueError(f"{PAUSE_ENV}={at!r}: expected a step number")
    if int(at) == step:
        from r1ci import requeue

        while not requeue.signal_received():
            time.sleep(0.1)
