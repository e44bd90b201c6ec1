"""RL that really learns (the answering model: half its answers right, so groups carry signal and every
step moves the weights), killed three times and resumed, ends bit for bit where an uninterrupted run ends:
the same prompts, rewards, losses and sync checks at every step, and the same final weights.

The kills land in the three places a job dies in practice (r1ci/training/faults.py): during a rollout,
with trajectories in flight; during the update, after an optimiser step nothing has saved; and during a
checkpoint write, which leaves a torn checkpoint that must never be loaded.
"""

from __future__ import annotations

import re
import signal

import pytest
import torch
from safetensors.torch import load_file

from r1ci.tracking import StepLog, find_offline_runs, read_offline_run, read_steps
from r1ci.training.checkpoint import CHECKPOINTS, LATEST, STATE_FILE, tag_for
from r1ci.training.faults import KILL_ENV, kill_point

STEPS = 6
KILLS = ("rollout:2", "checkpoint:4", "update:5")  # resumes from steps 1, 3 (not the torn 4) and 4
BACKENDS = {"torch": ["grpo.backend=torch"],
            "zero3": ["grpo.backend=deepspeed", "model.zero_stage=3"]}


def signal_args(answering_model, *extra: str) -> list[str]:
    return ["stage=rl", *answering_model.overrides, "task_mix.n_train_per_task=12", "grpo.global_batch_size=3", f"grpo.steps={STEPS}",
            "grpo.save_every=1", "grpo.keep_checkpoints=0", "grpo.lr=1e-4", *extra]


def run_dir(root):
    (history,) = root.rglob("rl_history.jsonl")
    return history.parent


def resumed_step(stderr: str) -> int | None:
    found = re.search(r"resumed RL from step (\d+)", stderr)
    return int(found.group(1)) if found else None


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_rl_killed_three_times_ends_bit_for_bit_where_the_uninterrupted_run_ends(run_launch, tmp_path, backend,
                                                                                 answering_model):
    args = signal_args(answering_model, *BACKENDS[backend])
    straight = run_launch(*args, f"paths.root={tmp_path / 'a'}")
    assert straight.returncode == 0, straight.stderr[-3000:]
    out_a = run_dir(tmp_path / "a")
    a = read_steps(out_a / "rl_history.jsonl", timings=False)
    assert [r["step"] for r in a] == list(range(1, STEPS + 1))
    # the run has signal, so a resume that restored nothing could not match it
    assert all(r["reward/zero_variance_groups"] < 1 and r["train/grad_norm"] > 0 for r in a)
    assert len({r["reward/mean"] for r in a}) > 1
    assert all(r["sync/max_abs_diff"] < 1e-3 for r in a)  # every step's push verified, on moving weights
    (run,) = [read_offline_run(f) for f in find_offline_runs(out_a)]
    assert [h["_step"] for h in run["history"]] == list(range(1, STEPS + 1))
    assert run["config"]["grpo"]["steps"] == STEPS  # launch.py's W&B run carries the typed config
    if backend == "torch":  # weights change at every step (a ZeRO-3 checkpoint is sharded: not read here)
        weights = [torch.load(out_a / CHECKPOINTS / tag_for(s) / "model.pt") for s in range(1, STEPS + 1)]
        for before, after in zip(weights, weights[1:]):
            assert any(not torch.equal(before[k], after[k]) for k in before)

    root_b, resumed_from = tmp_path / "b", []
    for kill in KILLS:
        proc = run_launch(*args, f"paths.root={root_b}", env={KILL_ENV: kill})
        assert proc.returncode == -signal.SIGKILL, (kill, proc.stderr[-3000:])
        resumed_from.append(resumed_step(proc.stdout))
        ckpts = run_dir(root_b) / CHECKPOINTS
        if kill == "checkpoint:4":  # torn: written in part, never named by `latest`
            assert (ckpts / tag_for(4)).is_dir() and not (ckpts / tag_for(4) / STATE_FILE).exists()
            assert (ckpts / LATEST).read_text().strip() == tag_for(3)
    final = run_launch(*args, f"paths.root={root_b}")
    assert final.returncode == 0, final.stderr[-3000:]
    assert resumed_from + [resumed_step(final.stdout)] == [None, 1, 3, 4]  # the torn step 4 was never loaded

    out_b = run_dir(root_b)
    b = read_steps(out_b / "rl_history.jsonl", timings=False)
    assert b == a  # every step: prompts, rewards, losses, sync checks, exactly
    wa, wb = load_file(out_a / "model" / "model.safetensors"), load_file(out_b / "model" / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)

    # One W&B run id across the four launches. (A SIGKILLed process never flushes its offline file, so
    # W&B loses what it had not sent; rl_history.jsonl keeps every step. A SLURM preemption flushes.)
    runs = [read_offline_run(f) for f in find_offline_runs(out_b)]
    assert {r["run_id"] for r in runs if r["run_id"]} == {(out_b / "wandb_run_id").read_text().strip()}
    assert [h["_step"] for h in runs[-1]["history"]] == [5, 6]


def test_step_log_drops_redone_steps_on_resume_and_ignores_a_torn_line(tmp_path):
    path = tmp_path / "history.jsonl"
    log = StepLog(path, resume_step=0)
    for step in (1, 2, 3):
        log.append(step, {"reward/mean": step / 10})
    with path.open("a") as f:
        f.write('{"step": 4, "reward/me')  # killed mid-write
    assert [r["step"] for r in read_steps(path)] == [1, 2, 3]
    StepLog(path, resume_step=2).append(3, {"reward/mean": 0.33})  # resumed from the step-2 checkpoint
    assert read_steps(path) == [{"step": 1, "reward/mean": 0.1}, {"step": 2, "reward/mean": 0.2},
                                {"step": 3, "reward/mean": 0.33}]
    StepLog(path, resume_step=1, enabled=False)  # other ranks neither write nor truncate
    assert len(read_steps(path)) == 3
    StepLog(path, resume_step=3).append(4, {"reward/mean": 0.4, "time/step": 2.5})
    assert read_steps(path, timings=False)[-1] == {"step": 4, "reward/mean": 0.4}  # what two runs must agree on


def test_a_malformed_kill_point_is_an_error(monkeypatch):
    monkeypatch.setenv(KILL_ENV, "during-update:3")
    with pytest.raises(ValueError, match="<phase>:<step>"):
        kill_point("update", 3)
    monkeypatch.setenv(KILL_ENV, "update:3")
    kill_point("update", 2)  # another step or phase: no kill
    kill_point("rollout", 3)
