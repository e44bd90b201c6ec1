"""The weight push from trainer to rollout engine: streamed a bucket at a time (peak extra memory measured
per rank), lands exactly the trainer's weights, and keeps tied embeddings in sync (the probe catches a
stale head)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import clean_env, tiny_cfg

from r1ci.models.tiny import TinySpec, build_tiny_model, resolve_model_path
from r1ci.rollout.engines.vllm_engine import VLLMEngine
from r1ci.training.engine import EngineSpec, TrainEngine, build_engine
from r1ci.training.weight_sync import WeightSyncError, push_and_verify, verify

PROBE = Path(__file__).with_name("sync_memory_probe.py")
SLACK = 2**20  # Python objects and allocator rounding around the tensors


@pytest.mark.slow
def test_streamed_push_holds_one_bucket_per_rank_and_lands_the_trainers_weights(cache_dir, tmp_path):
    """2 ranks, ZeRO-3, a 34 MB model of 1 MB tensors, 2 MB buckets: each rank's resident memory rises by
    at most a bucket plus the largest tensor while it pushes, against the whole model for a state dict."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", str(PROBE),
           str(cache_dir), "deepspeed", "3", "2", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env=clean_env(MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("rank*.json"))]
    print(rows)
    assert sorted(r["rank"] for r in rows) == [0, 1]
    for r in rows:
        assert r["equal"], "the engine's weights differ from the trainer's after the streamed push"
        assert r["largest_tensor"] < r["bucket_bytes"] < r["model_bytes"] / 10
        assert r["full_peak"] >= 0.9 * r["model_bytes"]  # the measurement does see a whole state dict
        assert r["streamed_peak"] <= r["bucket_bytes"] + r["largest_tensor"] + SLACK, r


def _train_step(trainer: TrainEngine, seed: int) -> None:
    """One optimiser step that moves every weight, the tied embedding included."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, trainer.module.config.vocab_size, (2, 24), generator=g)
    logp = trainer.forward_logprobs(ids, torch.ones_like(ids))
    trainer.backward(-logp.mean(), last_micro_batch=True)
    trainer.step(lr=1e-2)


@pytest.fixture(scope="session")
def tied_model(cache_dir) -> str:
    return str(build_tiny_model(cache_dir, TinySpec(tie_word_embeddings=True)))


@pytest.fixture(scope="session")
def tied_vllm(tied_model):
    """Closed only at the end of the session: vLLM's shutdown ends the process group that in-process
    DeepSpeed engines of later tests would join."""
    engine = VLLMEngine(tied_model, dtype="float32", max_model_len=256, seed=0)
    yield engine
    engine.close()


@pytest.mark.parametrize("backend,zero_stage", [("torch", 0), ("deepspeed", 3)])
def test_tied_embeddings_stay_in_sync_and_a_stale_head_is_caught(tmp_path, cache_dir, restore_env, tied_model,
                                                                  tied_vllm, backend, zero_stage):
    cfg = tiny_cfg(tmp_path, cache_dir, "model.tie_word_embeddings=true", f"grpo.backend={backend}",
                   f"model.zero_stage={zero_stage}")
    assert resolve_model_path(cfg.model, cfg.paths.cache_dir) == tied_model
    trainer = build_engine(EngineSpec(tied_model, cfg.model, cfg.grpo))
    assert trainer.module.config.tie_word_embeddings
    _train_step(trainer, seed=0)
    tied_vllm.sleep()
    check = asyncio.run(push_and_verify(trainer, tied_vllm, 1e-3, bucket_mb=1))
    assert check.n_tokens > 0 and check.max_abs_diff < 1e-3

    # The engine gets neither name of the tied tensor: its embedding and head are both stale.
    _train_step(trainer, seed=1)
    tied = ("model.embed_tokens.weight", "lm_head.weight")
    tied_vllm.update_weights((n, t) for n, t in trainer.iter_weights() if n not in tied)
    with pytest.raises(WeightSyncError):
        asyncio.run(verify(trainer, tied_vllm, 1e-3))
    asyncio.run(push_and_verify(trainer, tied_vllm, 1e-3))  # the full push repairs it
