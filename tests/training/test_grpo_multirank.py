"""GRPO on 2 ranks (torchrun, gloo, DeepSpeed ZeRO-3), each with its own vLLM engine: data parallel
(tensor parallel 1). Each rank rolls out half of the step's prompts with the seeds a 1-rank run gives
them, so the trajectories are the same; the update averages over ranks to the 1-rank update."""

from __future__ import annotations

import pytest
import torch
from conftest import clean_env, launch
from safetensors.torch import load_file

from r1ci.logging import read_steps

PROMPTS, GROUP, STEPS = 4, 2, 3
EXACT = ("data/prompts", "rollout/response_tokens", "rollout/turns", "rollout/code_calls", "sandbox/",
         "curriculum/")  # counts (and means of counts): equal; rewards are summed in another order


@pytest.mark.slow
def test_two_rank_data_parallel_rl_matches_one_rank(repo_root, cache_dir, tmp_path, answering_model):
    args = ["stage=rl", *answering_model.overrides, "task_mix.n_train_per_task=12",
            f"trainer.global_batch_size={PROMPTS}", f"trainer.group_size={GROUP}", f"trainer.steps={STEPS}",
            "trainer.lr=1e-4", "trainer.backend=deepspeed", "model.zero_stage=3", "logger=none",
            f"paths.cache_dir={cache_dir}"]
    env = clean_env(OMP_NUM_THREADS="1")
    runs = {}
    for ranks in (1, 2):
        proc = launch(repo_root, *args, f"paths.root={tmp_path / str(ranks)}", env=env, torchrun=ranks)
        assert proc.returncode == 0, proc.stderr[-4000:]
        (history,) = (tmp_path / str(ranks)).rglob("rl_history.jsonl")
        runs[ranks] = (read_steps(history, timings=False),
                       load_file(history.parent / "model" / "model.safetensors"))
    (one, w_one), (two, w_two) = runs[1], runs[2]
    assert len(one) == len(two) == STEPS
    for step, (a, b) in enumerate(zip(one, two), 1):
        assert a["rollout/trajectories_per_rank_max"] == PROMPTS * GROUP
        assert b["rollout/trajectories_per_rank_max"] == PROMPTS * GROUP // 2  # each rank rolls out half
        assert a.keys() == b.keys()
        for key in a:
            if key.startswith(EXACT):  # the same trajectories, scored the same
                assert a[key] == b[key], (step, key, a[key], b[key])
            elif key.startswith("reward/"):
                assert b[key] == pytest.approx(a[key], rel=1e-12), (step, key)
            elif key != "rollout/trajectories_per_rank_max":
                assert b[key] == pytest.approx(a[key], rel=1e-3, abs=1e-6), (step, key)
        assert len(a["data/prompts"]) == PROMPTS and b["sync/max_abs_diff"] < 1e-3
    diff = max((w_one[k] - w_two[k]).abs().max().item() for k in w_one)
    moved = max((w_one[k] - load_file(next(answering_model.path.glob("*.safetensors")))[k]).abs().max().item()
                for k in w_one)
    print(f"2 ranks vs 1 after {STEPS} steps: max |dw| = {diff:.2e} (the policy moved by {moved:.2e})")
    assert moved > 1e-4 and diff < moved / 10
