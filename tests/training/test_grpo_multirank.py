"""GRPO on 2 ranks (torchrun, gloo, DeepSpeed ZeRO-3 over both) against the same run on 1 rank.

Data parallel (tensor parallel 1): each rank has its own vLLM engine and rolls out half of the step's
prompts with the seeds a 1-rank run gives them, so the trajectories are the same, and the update averages
over ranks to the 1-rank update. Tensor parallel 2: one vLLM model split over both ranks (SPMD,
external_launcher); rank 0 drives it and rank 1 mirrors every engine step; each rank trains on half.
The model (`coding_model`) runs a code block in the sandbox in about a third of its answers, so the
rollouts are multi-turn and wait on the sandbox."""

from __future__ import annotations

import pytest
from conftest import clean_env, launch
from safetensors.torch import load_file

from r1ci.tracking import read_steps

PROMPTS, GROUP, STEPS = 4, 2, 3
EXACT = ("data/prompts", "rollout/response_tokens", "rollout/turns", "rollout/code_calls", "sandbox/",
         "curriculum/")  # counts (and means of counts): equal; rewards are summed in another order


@pytest.fixture(scope="module")
def rl_run(repo_root, cache_dir, tmp_path_factory, coding_model):
    """rl_run(ranks, *overrides) -> (step records without timings, final weights, output); each run once."""
    args = ["stage=rl", *coding_model.overrides, "task_mix.n_train_per_task=12",
            f"grpo.global_batch_size={PROMPTS}", f"grpo.group_size={GROUP}", f"grpo.steps={STEPS}",
            "grpo.lr=1e-4", "grpo.backend=deepspeed", "model.zero_stage=3", "logger=none",
            f"paths.cache_dir={cache_dir}"]
    runs = {}

    def run(ranks: int, *extra: str):
        if (ranks, extra) not in runs:
            root = tmp_path_factory.mktemp(f"rl-{ranks}-ranks")
            proc = launch(repo_root, *args, *extra, f"paths.root={root}", env=clean_env(OMP_NUM_THREADS="1"),
                          torchrun=ranks)
            assert proc.returncode == 0, proc.stderr[-4000:]
            (history,) = root.rglob("rl_history.jsonl")
            runs[ranks, extra] = (read_steps(history, timings=False),
                                  load_file(history.parent / "model" / "model.safetensors"), proc.stdout + proc.stderr)
        return runs[ranks, extra]

    return run


def _moved(weights, coding_model) -> float:
    start = load_file(next(coding_model.path.glob("*.safetensors")))
    return max((weights[k] - start[k]).abs().max().item() for k in weights)


@pytest.mark.slow
def test_two_rank_data_parallel_rl_matches_one_rank(rl_run, coding_model):
    (one, w_one, _), (two, w_two, _) = rl_run(1), rl_run(2)
    assert len(one) == len(two) == STEPS
    assert sum(a["sandbox/calls"] for a in one) > 0  # multi-turn rollouts, so the sandbox counts are compared
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
    moved = _moved(w_one, coding_model)
    print(f"2 ranks vs 1 after {STEPS} steps: max |dw| = {diff:.2e} (the policy moved by {moved:.2e})")
    assert moved > 1e-4 and diff < moved / 10


@pytest.mark.slow
def test_two_rank_tensor_parallel_rl_draws_the_one_rank_prompts_and_verifies_every_push(rl_run, coding_model):
    (one, _, _), (two, w_two, output) = rl_run(1), rl_run(2, "model.tensor_parallel_size=2")
    assert "Using external launcher" in output  # one model split over the two ranks, not two engines
    assert len(two) == STEPS
    for a, b in zip(one, two):
        assert b["data/prompts"] == a["data/prompts"]
        assert b["sync/max_abs_diff"] < 1e-3  # the larger of the two ranks' probe checks, every push
        assert b["rollout/trajectories_per_rank_max"] == PROMPTS * GROUP // 2  # each rank trains on half
        assert b["sandbox/calls"] == a["sandbox/calls"]
    calls = [b["sandbox/calls"] for b in two]
    assert sum(calls) > 0  # multi-turn: trajectories waited on the sandbox while the engine stepped on
    same = [a["reward/mean"] == pytest.approx(b["reward/mean"]) for a, b in zip(one, two)]
    print(f"TP 2 vs 1 rank: rewards equal at steps {same}; sandbox calls per step {calls}")
    assert _moved(w_two, coding_model) > 1e-4
