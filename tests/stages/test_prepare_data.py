"""stage=prepare_data through launch.py: datasets written, W&B offline run readable, multirun via submitit."""

from __future__ import annotations

import csv
import json

from r1ci.tracking import find_offline_runs, read_offline_run
from r1ci.tasks import TaskItem, get_task


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_prepare_data_smoke_writes_scored_datasets_and_a_wandb_run(run_launch, tmp_path):
    proc = run_launch("stage=prepare_data", "task_mix=smoke", f"paths.root={tmp_path}",
                      "task_mix.n_train_per_task=6", "task_mix.n_test_per_task=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (out,) = [p.parent for p in tmp_path.rglob("counts.csv")]
    train, test = _lines(out / "train.jsonl"), _lines(out / "test.jsonl")
    tasks = json.loads((out / "tasks.json").read_text())
    assert set(tasks) == {"gcd", "lcm", "count_primes", "boolean_expressions",
                          "multistep_arithmetic_two"}
    assert {r["task"] for r in train} == set(tasks) and {r["task"] for r in test} == set(tasks)
    assert not {r["question"] for r in train} & {r["question"] for r in test}  # no leakage
    for row in train[:10] + test[:10]:
        item = TaskItem.from_dict(row)
        assert item.question.rstrip().endswith(">>>.")  # the answer-format instruction closes each prompt
        if item.answer is not None:
            assert get_task(item.task).score(item.answer, item) == 1.0
    with open(out / "counts.csv") as f:
        counts = {r["task"]: r for r in csv.DictReader(f)}
    assert sum(int(r["n_train"]) for r in counts.values()) == len(train)

    (run_file,) = find_offline_runs(out)
    run = read_offline_run(run_file)
    assert run["config"]["task_mix"]["name"] == "smoke"
    assert run["config"]["stage"]["name"] == "prepare_data"
    logged = {k: v for h in run["history"] for k, v in h.items()}
    assert logged["prepare_data/n_train"] == len(train)
    assert run["run_id"] == (out / "wandb_run_id").read_text().strip()


def test_rerun_in_same_dir_continues_the_same_wandb_run(run_launch, tmp_path):
    args = ("stage=prepare_data", "task_mix=smoke", f"paths.root={tmp_path}", "task_mix.n_train_per_task=2",
            "task_mix.n_test_per_task=1")
    for _ in range(2):
        assert run_launch(*args).returncode == 0
    ids = {read_offline_run(f)["run_id"] for f in find_offline_runs(tmp_path)}
    assert len(ids) == 1 and len(find_offline_runs(tmp_path)) == 2


def test_multirun_with_submitit_local_runs_two_jobs(run_launch, tmp_path):
    proc = run_launch("-m", "stage=prepare_data", "task_mix=smoke,bbh", f"paths.root={tmp_path}",
                      "hydra/launcher=submitit_local", "logger=none", "task_mix.n_train_per_task=2",
                      "task_mix.n_test_per_task=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    outs = sorted(p.parent for p in tmp_path.rglob("counts.csv"))
    assert len(outs) == 2
    names = sorted(json.loads((o / "tasks.json").read_text()).__len__() for o in outs)
    assert names == [5, 27]  # smoke has 5 tasks, bbh all 27
    assert all((o / "train.jsonl").stat().st_size > 0 for o in outs)
    assert len(list(tmp_path.rglob(".submitit"))) == 1  # really went through submitit
