"""The main job (issue 10): the whole pipeline on the tiny model learns the smoke tasks through the
interpreter, and a rerun skips every finished step.

Smaller than the default only after SFT (the learning under test): a 2-step RL run, p from 2 answers
per sample. SFT, its data and the evals are the default's.
"""

from __future__ import annotations

import json

import pytest

SMALLER = ["logger=none", "curriculum.styles=[interpreter]", "curriculum.temperatures=[1.0]",
           "curriculum.n_stages=2", "curriculum.steps_per_stage=1", "eval.styles=[interpreter]"]


@pytest.mark.slow
def test_pipeline_learns_the_smoke_tasks_and_resumes_by_skipping(run_launch, tmp_path):
    proc = run_launch(*SMALLER, f"paths.root={tmp_path}", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (out,) = [p.parent for p in (tmp_path / "pipeline").rglob("summary.csv")]
    overall = {r["step"]: r for r in json.loads((out / "steps.json").read_text())}
    assert list(overall) == ["prepare_data", "synth", "sft", "eval_untrained", "eval_sft", "potential", "rl",
                             "eval_rl"]

    accuracy = {}
    for step in ("eval_untrained", "eval_sft", "eval_rl"):
        metrics = json.loads((tmp_path / overall[step]["dir"] / "metrics.json").read_text())
        accuracy[step] = metrics["styles"]["interpreter"]["accuracy"]
        assert metrics["n_infra"] == 0
    assert accuracy["eval_untrained"] <= 0.05  # a random tiny model solves nothing
    assert accuracy["eval_sft"] >= accuracy["eval_untrained"] + 0.5, accuracy  # it learned through the tool
    summary = (out / "summary.md").read_text()
    assert "| overall |" in summary and (out / "summary.png").stat().st_size > 1000
    rl_history = json.loads((out / "rl" / "rl_history.json").read_text())
    assert len(rl_history) == 2 and all(h["sync/max_abs_diff"] < 1e-3 for h in rl_history)
    potential = (tmp_path / overall["potential"]["dir"] / "potential.jsonl").read_text().splitlines()
    assert len(potential) == 100  # 5 tasks x 20 training samples

    again = run_launch(*SMALLER, f"paths.root={tmp_path}", timeout=600)
    assert again.returncode == 0, again.stderr[-4000:]
    log = again.stdout + again.stderr
    assert log.count("done already") == 8 and "failed" not in log  # every step skipped
    assert (out / "summary.md").read_text() == summary
