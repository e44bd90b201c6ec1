"""r1ci.requeue in one process: the signal is deferred to a step boundary, then handed to submitit.

`submitit` stands for the handler submitit installs (checkpoint + scontrol requeue + exit); the full path
through a real SLURM requeue is tests/slurm/test_slurm_local.py.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from r1ci import requeue


@pytest.fixture
def submitit_calls(monkeypatch):
    """Install a stand-in for submitit's handler on the preemption signal; record its calls."""
    for k in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(k, raising=False)
    calls: list[int] = []
    sig = requeue.preempt_signal()
    old = signal.signal(sig, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(sig, old)


def test_signal_only_raises_a_flag_until_the_stage_asks(submitit_calls):
    with requeue.deferred():
        assert not requeue.stop_requested()
        os.kill(os.getpid(), requeue.preempt_signal())
        assert requeue.stop_requested() and submitit_calls == []  # nothing interrupted the step
    os.kill(os.getpid(), requeue.preempt_signal())  # outside: submitit's handler is back
    assert submitit_calls == [requeue.preempt_signal()]


def test_requeue_and_exit_hands_over_to_submitit_then_exits(submitit_calls):
    with requeue.deferred():
        os.kill(os.getpid(), requeue.preempt_signal())
        assert requeue.stop_requested()
        with pytest.raises(SystemExit):
            requeue.requeue_and_exit()
    assert submitit_calls == [requeue.preempt_signal()]


def test_no_step_boundary_within_the_grace_time_requeues_anyway(submitit_calls, monkeypatch):
    monkeypatch.setattr(requeue, "_default_grace_s", lambda: 0.05)
    with requeue.deferred():
        os.kill(os.getpid(), requeue.preempt_signal())
        deadline = time.monotonic() + 60  # a whole-wait limit: the call comes after the 0.05 s grace
        while not submitit_calls and time.monotonic() < deadline:  # a long step that never polls
            time.sleep(0.01)
    assert submitit_calls == [requeue.preempt_signal()]


def test_polling_in_time_cancels_the_forced_requeue(submitit_calls, monkeypatch):
    """By events, not by racing a short grace time: the forced requeue is armed, the poll disarms it, and
    its timer thread ends without firing."""
    monkeypatch.setattr(requeue, "_default_grace_s", lambda: 600.0)
    with requeue.deferred():
        os.kill(os.getpid(), requeue.preempt_signal())
        timer = requeue._state.timer
        assert timer is not None and timer.is_alive()  # armed
        assert requeue.stop_requested()  # the stage is now saving its checkpoint
        timer.join(timeout=60)  # a cancelled timer's thread ends at once; an armed one would wait 600 s
        assert not timer.is_alive()
    assert submitit_calls == []
