"""launch.py multiruns through hydra-submitit-launcher onto the local SLURM cluster (issue 9's Done-when).

Each test is one `python launch.py -m ... launcher=slurm_local`, as a user runs it: sbatch, srun tasks,
the run-id-named output dir, and (for preemption) USR2 -> checkpoint -> `scontrol requeue` -> resume.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import torch
from slurm_helpers import REPO, launch_cmd, read_jsonl, run_multirun, sacct_states

from r1ci.tracking import RUN_ID_FILE, find_offline_runs, read_offline_run, read_steps
from r1ci.training.faults import PAUSE_ENV

pytestmark = pytest.mark.slurm


def _wait_for(predicate, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _final_states(env: dict, job_name: str, n_jobs: int) -> list[tuple[str, str]]:
    """Accounting records once all n jobs have ended (slurmctld logs a job just after its result file)."""
    return _wait_for(lambda: (s := sacct_states(env, job_name)) and
                     sum(state != "PENDING" for _, state in s) >= n_jobs and s, 60, f"{job_name} in sacct -c")


def test_prepare_data_sweep_runs_through_sbatch(slurm_env, job_name, tmp_path):
    proc = run_multirun(slurm_env, "stage=prepare_data", "task_mix=smoke,bbh", f"paths.root={tmp_path}",
                        "logger=none", f"hydra.launcher.name={job_name}")
    assert proc.returncode == 0, proc.stderr[-4000:]

    outs = {p.parent.name.split("-")[1]: p.parent for p in tmp_path.rglob("counts.csv")}
    assert sorted(outs) == ["bbh", "smoke"]
    for out in outs.values():
        assert (out / "train.jsonl").stat().st_size > 0 and (out / "test.jsonl").stat().st_size > 0
    scripts = list(tmp_path.rglob(".submitit/*/*_submission.sh"))  # what submitit handed to sbatch
    assert scripts and "#SBATCH --partition=local" in scripts[0].read_text()

    states = _final_states(slurm_env, job_name, n_jobs=2)
    assert sorted(state for _, state in states) == ["COMPLETED", "COMPLETED"], states


def test_two_ranks_join_one_process_group_and_agree_on_the_output_dir(slurm_env, job_name, tmp_path):
    proc = run_multirun(slurm_env, "stage=cluster_check", "hydra.launcher.tasks_per_node=2",
                        "cluster_check.steps=3", "cluster_check.step_s=0", "logger=none",
                        f"paths.root={tmp_path}", f"hydra.launcher.name={job_name}")
    assert proc.returncode == 0, proc.stderr[-4000:]

    (out,) = {p.parent for p in tmp_path.rglob("rank0.json")}
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world_size"] for r in ranks} == {2}
    assert {r["all_reduce"] for r in ranks} == {2.0}  # both joined one gloo process group
    assert ranks[0]["pid"] != ranks[1]["pid"] and ranks[0]["job_id"] == ranks[1]["job_id"]
    assert {r["out_dir"] for r in ranks} == {str(out.resolve())}  # the run-id hash, not a timestamp
    summary = json.loads((out / "cluster_check.json").read_text())
    assert summary["out_dirs_agree"] and summary["total"] == 3 * (1 + 2)  # 3 steps of all_reduce(rank + 1)
    assert [s for _, s in _final_states(slurm_env, job_name, n_jobs=1)] == ["COMPLETED"]


def test_preempted_job_checkpoints_requeues_and_resumes_the_same_wandb_run(slurm_env, job_name, tmp_path):
    steps, save_every = 20, 5
    proc = subprocess.Popen(
        launch_cmd("stage=cluster_check", "hydra.launcher.tasks_per_node=2", f"cluster_check.steps={steps}",
                   "cluster_check.step_s=0.4", f"cluster_check.save_every={save_every}",
                   f"paths.root={tmp_path}", f"hydra.launcher.name={job_name}"),
        cwd=REPO, env={**os.environ, **slurm_env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        events_file = _wait_for(lambda: next(tmp_path.rglob("events.jsonl"), None), 180, "the job to start")
        first = _wait_for(lambda: [e for e in read_jsonl(events_file) if e["event"] == "checkpoint"], 60,
                          "a periodic checkpoint")[0]
        subprocess.run(["scancel", "--signal=USR2", first["job_id"]], env={**os.environ, **slurm_env},
                       check=True)  # what SLURM sends signal_delay_s before the time limit
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr[-4000:]

    out = events_file.parent
    events = read_jsonl(events_file)
    (signal_ckpt,) = [e for e in events if e.get("reason") == "signal"]
    starts = [e for e in events if e["event"] == "start"]
    assert signal_ckpt["step"] >= save_every and signal_ckpt["restart"] == 0  # a fresh checkpoint on USR2
    assert [(s["step"], s["restart"]) for s in starts] == [(0, 0), (signal_ckpt["step"], 1)]  # resumed there
    assert events[-1]["event"] == "done" and events[-1]["step"] == steps
    assert json.loads((out / "checkpoint.json").read_text())["step"] == steps
    assert {s["job_id"] for s in starts} == {first["job_id"]}  # requeued, not resubmitted

    states = [s for _, s in _final_states(slurm_env, job_name, n_jobs=1)]
    assert states == ["PENDING", "COMPLETED"], states  # jobcomp logs the requeue as PENDING

    runs = [read_offline_run(f) for f in find_offline_runs(out)]
    assert len(runs) == 2 and {r["run_id"] for r in runs} == {(out / RUN_ID_FILE).read_text().strip()}
    logged = [[h["cluster_check/step"] for h in r["history"]] for r in runs]
    cut = signal_ckpt["step"]
    assert logged == [list(range(1, cut + 1)), list(range(cut + 1, steps + 1))]  # one run, no step twice


def _preempt_after_first_checkpoint(slurm_env: dict, cmd: list[str], runs_root, tmp_path, env: dict,
                                    save_every: int):
    """Submit `cmd`, send USR2 (SLURM's warning before a time limit) once the first periodic checkpoint
    exists, and wait for the requeued job to finish. Returns (the run's output dir, returncode, stderr).
    The job holds after that checkpoint's step until the signal arrives (PAUSE_ENV): on a loaded machine
    it can neither run past its last step before the signal lands, nor be signalled at a random step."""
    env = {**env, PAUSE_ENV: str(save_every)}
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **slurm_env, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        ckpts = _wait_for(lambda: next(runs_root.rglob("checkpoints/latest"), None), 240,
                          "the first periodic checkpoint")
        job_id = _wait_for(lambda: [p.name.split("_")[0] for p in tmp_path.rglob("*_submitted.pkl")], 30,
                           "the job id")[0]
        subprocess.run(["scancel", "--signal=USR2", job_id], env={**os.environ, **slurm_env}, check=True)
        _, stderr = proc.communicate(timeout=420)
    finally:
        proc.kill()
    return ckpts.parent.parent, proc.returncode, stderr


def _conversations(n: int) -> list[dict]:
    """Small multi-turn conversations in stage=synth's format (r1ci/rollout/conversation.py)."""
    rows = []
    for i in range(n):
        a, b = 100 + i, 7 + i % 13
        rows.append({"item_id": f"q{i}", "task": "number_multiply", "messages": [
            {"role": "system", "content": "You may run code."},
            {"role": "user", "content": f"What is {a} * {b}?"},
            {"role": "assistant", "content": f"Let me compute.\n```python\nprint({a} * {b})\n```\n"},
            {"role": "interpreter", "content": f"Code Execution Results:\n{a * b}\n"},
            {"role": "assistant", "content": f"So <<<{a * b}>>>"}]})
    return rows


def test_preempted_sft_job_checkpoints_requeues_and_resumes(slurm_env, job_name, tmp_path):
    data = tmp_path / "synth"
    data.mkdir()
    (data / "sft.jsonl").write_text("\n".join(json.dumps(r) for r in _conversations(64)) + "\n")
    steps = 64 // 4 * 20  # global batch 4, 20 epochs
    out, returncode, stderr = _preempt_after_first_checkpoint(
        slurm_env, launch_cmd("stage=sft", f"paths.input_dir={data}", f"paths.root={tmp_path / 'runs'}",
                              "sft.global_batch_size=4", "model.micro_batch_size=4", "sft.epochs=20",
                              "sft.save_every=40", "sft.lr=1e-3", "sft.backend=deepspeed",
                              f"hydra.launcher.name={job_name}"),
        tmp_path / "runs", tmp_path, {"OMP_NUM_THREADS": "1"}, save_every=40)
    assert returncode == 0, stderr[-4000:]
    states = [s for _, s in _final_states(slurm_env, job_name, n_jobs=1)]
    assert states == ["PENDING", "COMPLETED"], states  # requeued once, then finished
    runs = [read_offline_run(f) for f in find_offline_runs(out)]
    assert len(runs) == 2 and {r["run_id"] for r in runs} == {(out / RUN_ID_FILE).read_text().strip()}
    first = [h["_step"] for h in runs[0]["history"] if "train/loss" in h]
    second = [h["_step"] for h in runs[1]["history"] if "train/loss" in h]
    assert first[-1] == 41 and second[0] == 42 and second[-1] == steps  # stopped at the step after the signal
    assert (out / "model" / "config.json").exists()


def test_preempted_rl_job_resumes_to_the_uninterrupted_runs_steps_and_weights(slurm_env, job_name, tmp_path,
                                                                              run_launch, answering_model):
    """RL with reward signal, preempted (USR2) after its first periodic checkpoint, requeued: every step's
    metrics and the final weights equal those of the same run uninterrupted, bit for bit; one W&B run."""
    from safetensors.torch import load_file

    args = ["stage=rl", *answering_model.overrides, "task_mix.n_train_per_task=12", "grpo.global_batch_size=3", "grpo.steps=10",
            "grpo.save_every=2", "grpo.lr=1e-4", "grpo.backend=deepspeed"]
    threads = {"OMP_NUM_THREADS": "1"}  # the same float reductions in both runs
    straight = run_launch(*args, f"paths.root={tmp_path / 'straight'}", env=threads)
    assert straight.returncode == 0, straight.stderr[-3000:]
    out, returncode, stderr = _preempt_after_first_checkpoint(
        slurm_env, launch_cmd(*args, f"paths.root={tmp_path / 'slurm'}", f"hydra.launcher.name={job_name}"),
        tmp_path / "slurm", tmp_path, threads, save_every=2)
    assert returncode == 0, stderr[-4000:]
    states = [s for _, s in _final_states(slurm_env, job_name, n_jobs=1)]
    assert states == ["PENDING", "COMPLETED"], states  # preempted and requeued once, then finished

    (out_straight,) = {p.parent for p in (tmp_path / "straight").rglob("rl_history.jsonl")}
    runs = [read_offline_run(f) for f in find_offline_runs(out)]
    assert len(runs) == 2 and {r["run_id"] for r in runs} == {(out / RUN_ID_FILE).read_text().strip()}
    first, second = ([h["_step"] for h in r["history"]] for r in runs)
    assert first == [1, 2, 3] and second == list(range(4, 11))  # signalled in step 3: one run, no step lost
    straight_steps, slurm_steps = (read_steps(d / "rl_history.jsonl", timings=False) for d in (out_straight, out))
    assert slurm_steps == straight_steps  # prompts, rewards, losses, sync checks of every step
    wa, wb = (load_file(d / "model" / "model.safetensors") for d in (out_straight, out))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_two_task_rl_job_splits_the_model_over_both_and_verifies_every_push(slurm_env, job_name, tmp_path,
                                                                            coding_model):
    """RL as 2 SLURM tasks (one process group, ZeRO-3) with one vLLM model split over both (tensor parallel
    2, external_launcher; SLURM's task ids are the ranks). Each task trains on half of every step's
    prompts, and every rank passes the weight check after every push. (The data-parallel layout, one
    engine per task, is the torchrun test's: tests/training/test_grpo_multirank.py.)"""
    proc = run_multirun(slurm_env, "stage=rl", *coding_model.overrides, "task_mix.n_train_per_task=12",
                        "grpo.global_batch_size=4", "grpo.steps=2", "grpo.backend=deepspeed",
                        "model.zero_stage=3", "model.tensor_parallel_size=2", "hydra.launcher.tasks_per_node=2",
                        "logger=none", f"paths.root={tmp_path}", f"hydra.launcher.name={job_name}", timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (history,) = tmp_path.rglob("rl_history.jsonl")
    steps = read_steps(history)
    assert [len(s["data/prompts"]) for s in steps] == [4, 4]
    assert all(s["rollout/trajectories_per_rank_max"] == 2 * 4 for s in steps)  # 2 of the 4 prompts x 4 each
    assert all(s["sync/max_abs_diff"] < 1e-3 for s in steps)  # the larger of the two ranks' checks
    assert sum(s["sandbox/calls"] for s in steps) > 0  # multi-turn rollouts that ran code in the sandbox
    logs = "".join(p.read_text() for p in tmp_path.rglob("*_log.out"))
    assert "Using external launcher" in logs, "the model was not split over the two tasks"
    assert (history.parent / "model" / "model.safetensors").exists()
    assert [s for _, s in _final_states(slurm_env, job_name, n_jobs=1)] == ["COMPLETED"]
