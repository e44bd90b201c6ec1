"""stage=potential: p and Pi per training sample from real rollouts, and a killed estimate resumes."""

from __future__ import annotations

import json

import pytest

from r1ci.stages.potential import per_sample, read_rollouts
from r1ci.tasks import TaskItem

SMALL = ["stage=potential", "logger=none", "task_mix.tasks=[gcd,boolean_expressions]",
         "task_mix.n_train_per_task=3", "curriculum.styles=[interpreter,text]", "curriculum.temperatures=[0.6,1.0]",
         "model.max_response_len=96", "rollout.max_tokens_per_turn=32"]


def test_per_sample_rates_ignore_infra_failures():
    items = [TaskItem("a", "gcd", "q", "1"), TaskItem("b", "gcd", "q", "1"), TaskItem("c", "gcd", "q", "1")]
    rows = [{"item_id": "a", "style": "code", "sample": 0, "correct": True, "infra_failed": False},
            {"item_id": "a", "style": "code", "sample": 1, "correct": False, "infra_failed": False},
            {"item_id": "a", "style": "text", "sample": 0, "correct": True, "infra_failed": False},
            {"item_id": "a", "style": "text", "sample": 1, "correct": False, "infra_failed": True},
            {"item_id": "b", "style": "code", "sample": 0, "correct": False, "infra_failed": True}]
    a, b, c = per_sample(items, rows, ["code", "text"])
    assert a["p"] == pytest.approx(2 / 3) and a["potential"] == pytest.approx(4 * 2 / 3 / 3)
    assert (a["n"], a["n_infra"], a["style_rates"]) == (3, 1, {"code": 0.5, "text": 1.0})
    assert (b["p"], b["n"], b["n_infra"], b["style_rates"]["code"]) == (0.0, 0, 1, None)
    assert (c["p"], c["n"], c["potential"]) == (0.0, 0, 0.0)


def test_potential_estimates_every_sample_and_resumes_without_repeating(run_launch, tmp_path):
    args = [*SMALL, f"paths.root={tmp_path}"]
    proc = run_launch(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (out,) = {p.parent for p in tmp_path.rglob("potential.jsonl")}
    rows = [json.loads(line) for line in (out / "potential.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["n"] + r["n_infra"] == 4 for r in rows)  # 2 styles x 2 temperatures
    assert all(r["potential"] == pytest.approx(4 * r["p"] * (1 - r["p"])) for r in rows)
    assert (out / "histogram.png").stat().st_size > 1000
    full = read_rollouts(out / "rollouts.jsonl")
    assert len(full) == 24

    # A kill mid-estimate: keep the first 10 answers and a torn line; the rerun adds only the other 14.
    lines = (out / "rollouts.jsonl").read_text().splitlines()
    (out / "rollouts.jsonl").write_text("\n".join(lines[:10]) + "\n" + lines[10][:15])
    again = run_launch(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    redone = read_rollouts(out / "rollouts.jsonl")
    keys = [(r["item_id"], r["style"], r["sample"]) for r in redone]
    assert len(redone) == 24 and len(set(keys)) == 24
    assert sorted(keys) == sorted((r["item_id"], r["style"], r["sample"]) for r in full)
    assert "14 answers to go (10 already done)" in (out / "launch.log").read_text()
