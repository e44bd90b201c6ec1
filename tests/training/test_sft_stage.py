"""stage=sft through launch.py as a user runs it: trains, exports an HF model, resumes after SIGKILL to the
same weights, continues the same W&B run, and runs as 2 processes (torchrun, gloo, ZeRO-3)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
import torch
from conftest import clean_env, launch, make_conversations, write_sft_jsonl
from safetensors.torch import load_file

from r1ci.tracking import find_offline_runs, read_offline_run
from r1ci.training.faults import KILL_ENV

STEP_LINE = re.compile(r"step (\d+)/\d+ \| loss ([\d.]+) \| lr \S+ \| gnorm ([\d.]+)")


def sft_args(data_dir: Path, root: Path, cache_dir: Path, *extra: str) -> list[str]:
    # 12 conversations, 4 per step, 2 epochs: 6 steps of 2 micro-batches; checkpoints at 2, 4, 6.
    return ["stage=sft", "model=tiny", f"paths.input_dir={data_dir}", f"paths.root={root}",
            f"paths.cache_dir={cache_dir}", "sft.global_batch_size=4", "sft.epochs=2",
            "sft.save_every=2", "sft.lr=1e-3", "model.micro_batch_size=2", "sft.backend=deepspeed", *extra]


def run_dir(root: Path) -> Path:
    (d,) = [p.parent for p in root.rglob("sft_stats.json")]
    return d


def step_metrics(out: Path) -> dict[int, tuple[float, float]]:
    """{step: (loss, grad norm)} from the run's launch.log (rank 0's log line of each step)."""
    text = (out / "launch.log").read_text()
    return {int(s): (float(loss), float(g)) for s, loss, g in STEP_LINE.findall(text)}


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "model" / "model.safetensors")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sft-data")
    write_sft_jsonl(d, make_conversations(12))
    return d


@pytest.fixture(scope="module")
def uninterrupted(repo_root, data_dir, cache_dir, tmp_path_factory) -> Path:
    """One full run with W&B offline: the reference the other runs are compared with."""
    root = tmp_path_factory.mktemp("sft-full")
    proc = launch(repo_root, *sft_args(data_dir, root, cache_dir), env=clean_env(OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir(root)


def test_sft_stage_writes_a_transformers_loadable_model_and_wandb_metrics(uninterrupted):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(uninterrupted / "model")
    tok = AutoTokenizer.from_pretrained(uninterrupted / "model")
    assert model.config.model_type == "qwen2" and tok.eos_token == "<|im_end|>"
    assert sorted(p.name for p in (uninterrupted / "checkpoints").iterdir()) == ["latest", "step_0000004",
                                                                                   "step_0000006"]
    metrics = step_metrics(uninterrupted)
    assert sorted(metrics) == [1, 2, 3, 4, 5, 6] and metrics[6][0] < metrics[1][0]
    (run_file,) = find_offline_runs(uninterrupted)
    history = read_offline_run(run_file)["history"]
    logged = [h for h in history if "train/loss" in h]
    assert len(logged) == 6 and {"train/lr", "train/grad_norm", "train/tokens_per_s"} <= logged[0].keys()


def test_killed_run_resumes_to_the_same_weights_and_wandb_run(repo_root, data_dir, cache_dir, tmp_path, uninterrupted):
    args = sft_args(data_dir, tmp_path, cache_dir)
    killed = launch(repo_root, *args, env=clean_env(OMP_NUM_THREADS="1", **{KILL_ENV: "after:3"}))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (out,) = [p.parent.parent for p in tmp_path.rglob("checkpoints/latest")]
    assert (out / "checkpoints" / "latest").read_text() == "step_0000002"  # step 3 is lost, redone
    assert not (out / "model").exists()

    resumed = launch(repo_root, *args, env=clean_env(OMP_NUM_THREADS="1"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from step 2/6" in (out / "launch.log").read_text()
    ref, got = weights(uninterrupted), weights(out)
    max_diff = max((ref[k] - got[k]).abs().max().item() for k in ref)
    print(f"resume: max abs weight diff vs uninterrupted run = {max_diff}")
    assert max_diff == 0.0  # CPU, one thread, same data order and RNG: bit-identical
    ref_m, got_m = step_metrics(uninterrupted), step_metrics(out)
    assert all(got_m[s] == ref_m[s] for s in range(1, 7))  # steps 3..6 after the resume, 1..3 before it
    ids = {p.name.rsplit("-", 1)[-1] for p in out.glob("wandb/offline-run-*")}
    assert len(ids) == 1 and len(list(out.glob("wandb/offline-run-*"))) == 2  # one W&B run, continued


def test_two_process_torchrun_zero3_matches_one_process(repo_root, data_dir, cache_dir, tmp_path, uninterrupted):
    proc = launch(repo_root, *sft_args(data_dir, tmp_path, cache_dir, "model.zero_stage=3", "logger=none"),
                  env=clean_env(OMP_NUM_THREADS="1"), torchrun=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = run_dir(tmp_path)
    ranks = sorted(p.name for p in (out / "checkpoints" / "step_0000006").iterdir() if "optim" in p.name)
    assert len(ranks) == 2  # ZeRO-3: optimiser state sharded over both ranks
    ref_m, got_m = step_metrics(uninterrupted), step_metrics(out)
    for s in range(1, 7):  # same global batch split over 2 ranks: same loss and grad norm
        assert got_m[s][0] == pytest.approx(ref_m[s][0], abs=2e-4)
        assert got_m[s][1] == pytest.approx(ref_m[s][1], rel=1e-3)
    ref, got = weights(uninterrupted), weights(out)
    max_diff = max((ref[k] - got[k]).abs().max().item() for k in ref)
    print(f"torchrun ZeRO-3 x2 vs 1 process: max abs weight diff = {max_diff}")
    assert max_diff < 1e-3  # reduction order noise, amplified by Adam where gradients are ~0


def test_sft_without_input_dir_reads_the_newest_synth_run_of_its_model_and_mix(tmp_path):
    import os

    from r1ci.config import compose, validate
    from r1ci.runtime import latest_output
    from r1ci.stages import sft as sft_stage

    cfg = validate(compose(["stage=sft", "model=tiny", "task_mix=smoke", f"paths.root={tmp_path}"]))
    with pytest.raises(FileNotFoundError, match="run stage=synth first"):
        sft_stage.run(cfg)
    for i, name in enumerate(["tiny-smoke-aaaa", "tiny-smoke-bbbb", "tiny-bbh-cccc"]):
        (tmp_path / "synth" / name).mkdir(parents=True)
        (tmp_path / "synth" / name / "sft.jsonl").write_text("{}\n")
        os.utime(tmp_path / "synth" / name / "sft.jsonl", (1000 + i, 1000 + i))
    assert latest_output(cfg, "synth", "sft.jsonl") == tmp_path / "synth" / "tiny-smoke-bbbb" / "sft.jsonl"


@pytest.mark.slow
@pytest.mark.parametrize("zero_stage", [2, 3])
def test_two_process_zero_run_killed_and_resumed_equals_the_uninterrupted_one(repo_root, data_dir, cache_dir,
                                                                                tmp_path, zero_stage):
    """torchrun x2 with DeepSpeed ZeRO-2/3 (sharded optimiser state): SIGKILL after step 3 (the last
    checkpoint is step 2), resume, and the weights and per-step metrics equal an uninterrupted 2-process
    run exactly (same ranks, same reduction order)."""
    args = ("logger=none", f"model.zero_stage={zero_stage}")
    straight = launch(repo_root, *sft_args(data_dir, tmp_path / "a", cache_dir, *args),
                      env=clean_env(OMP_NUM_THREADS="1"), torchrun=2)
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = launch(repo_root, *sft_args(data_dir, tmp_path / "b", cache_dir, *args),
                    env=clean_env(OMP_NUM_THREADS="1", **{KILL_ENV: "after:3"}), torchrun=2)
    assert killed.returncode != 0
    (ckpt,) = list((tmp_path / "b").rglob("checkpoints/latest"))
    assert ckpt.read_text() == "step_0000002"
    resumed = launch(repo_root, *sft_args(data_dir, tmp_path / "b", cache_dir, *args),
                     env=clean_env(OMP_NUM_THREADS="1"), torchrun=2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = run_dir(tmp_path / "a"), run_dir(tmp_path / "b")
    assert "resumed from step 2/6" in (b / "launch.log").read_text()
    ref, got = weights(a), weights(b)
    assert all(torch.equal(ref[k], got[k]) for k in ref)  # bit for bit
    assert step_metrics(b) == step_metrics(a)
