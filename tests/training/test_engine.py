"""The training engine in-process on CPU: a step moves every parameter, DeepSpeed matches plain torch,
checkpoints restore exactly, the exported model loads in transformers, and the tiny model can overfit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import make_conversations, tiny_cfg

from r1ci.tracking import NullRun
from r1ci.models.tiny import resolve_model_path
from r1ci.training.engine import EngineSpec, build_engine
from r1ci.training.sft import SFTTrainer, loss_on_batch
from r1ci.training.sft_data import tokenize_conversations


@pytest.fixture(autouse=True)
def one_thread(restore_env):
    """One intra-op thread: deterministic, and on a busy 2-core machine 5-20x faster than two."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def setup(tmp_path: Path, cache_dir: Path, *overrides: str, n_conv: int = 12, batch: int = 4, epochs: int = 1,
          lr: float = 1e-3, schedule: str = "constant"):
    cfg = tiny_cfg(tmp_path, cache_dir, *overrides)
    model_path = resolve_model_path(cfg.model, cfg.paths.cache_dir)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    examples, _ = tokenize_conversations(tok, make_conversations(n_conv), 10_000)
    sft = replace(cfg.sft, lr=lr, lr_schedule=schedule, warmup_ratio=0.1, epochs=epochs, global_batch_size=batch,
                  save_every=10**6, seed=0)
    engine = build_engine(EngineSpec(model_path, replace(cfg.model, micro_batch_size=2), sft))
    trainer = SFTTrainer(engine, examples, tok.pad_token_id, sft, tmp_path / "checkpoints", NullRun(), "sha")
    return engine, trainer, tok, examples


def run_steps(trainer: SFTTrainer, steps: range, lr: float = 1e-3) -> list[float]:
    return [trainer.train_step(trainer.plan(s), lr).loss for s in steps]


# (backend, ZeRO stage): the tiny model's default backend is torch, so DeepSpeed is named explicitly
BACKENDS = [("torch", 0), ("deepspeed", 2), ("deepspeed", 3)]


@pytest.mark.parametrize("backend,zero_stage", BACKENDS)
def test_one_step_changes_every_parameter(tmp_path, cache_dir, backend, zero_stage):
    engine, trainer, _, _ = setup(tmp_path, cache_dir, f"sft.backend={backend}", f"model.zero_stage={zero_stage}")
    assert type(engine).__name__ == ("DeepSpeedEngine" if backend == "deepspeed" else "TorchEngine")
    before = engine.full_state_dict()
    metrics = trainer.train_step(trainer.plan(0), lr=1e-3)
    after = engine.full_state_dict()
    assert before.keys() == after.keys() and len(after) == len(list(engine.module.parameters()))
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged, f"parameters not updated: {unchanged}"
    assert metrics.grad_norm > 0 and torch.isfinite(torch.tensor(metrics.grad_norm))
    assert metrics.n_loss_tokens > 0 and metrics.n_tokens > metrics.n_loss_tokens


def test_deepspeed_matches_plain_torch(tmp_path, cache_dir):
    """Same data, same schedule: ZeRO-2's weights equal the plain AdamW loop's up to float noise."""
    results = {}
    for backend, stage in (("torch", 0), ("deepspeed", 2)):
        engine, trainer, _, _ = setup(tmp_path / backend, cache_dir, f"sft.backend={backend}",
                                      f"model.zero_stage={stage}")
        losses = run_steps(trainer, range(3))
        results[backend] = (losses, engine.full_state_dict())
    (l_torch, w_torch), (l_ds, w_ds) = results["torch"], results["deepspeed"]
    assert l_torch == pytest.approx(l_ds, abs=1e-5)
    diff = max((w_torch[k] - w_ds[k]).abs().max().item() for k in w_torch)
    print(f"ZeRO-2 vs plain torch after 3 steps: max abs weight diff = {diff}")
    assert diff < 1e-5, diff


@pytest.mark.parametrize("backend,zero_stage", BACKENDS)
def test_checkpoint_restores_weights_optimizer_rng_and_state(tmp_path, cache_dir, backend, zero_stage):
    overrides = (f"sft.backend={backend}", f"model.zero_stage={zero_stage}")
    engine, trainer, _, _ = setup(tmp_path, cache_dir, *overrides)
    run_steps(trainer, range(2))
    engine.save_checkpoint(trainer.ckpt_root, 2, {"step": 2, "extra": {"curriculum_stage": 1}})
    draw = torch.rand(3)
    run_steps(trainer, range(2, 3))
    expected = engine.full_state_dict()

    engine2, trainer2, _, _ = setup(tmp_path, cache_dir, *overrides)
    state = engine2.load_checkpoint(trainer2.ckpt_root)
    assert state == {"step": 2, "extra": {"curriculum_stage": 1}}
    assert torch.equal(torch.rand(3), draw)  # RNG restored
    run_steps(trainer2, range(2, 3))  # the step after the checkpoint needs the optimiser's moments too
    got = engine2.full_state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_save_pretrained_loads_in_transformers_with_the_same_logits(tmp_path, cache_dir):
    engine, trainer, tok, examples = setup(tmp_path, cache_dir)
    run_steps(trainer, range(1))
    engine.save_pretrained(tmp_path / "model", tok)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert AutoTokenizer.from_pretrained(tmp_path / "model").encode("print(1)") == tok.encode("print(1)")
    ids = torch.tensor([examples[0].input_ids])
    engine.eval()
    with torch.no_grad():
        ours = engine.forward_logprobs(ids, torch.ones_like(ids))
        theirs = torch.log_softmax(model(input_ids=ids).logits[:, :-1], -1).gather(-1, ids[:, 1:, None])[..., 0]
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_tiny_model_overfits_twenty_conversations(tmp_path, cache_dir):
    engine, trainer, tok, examples = setup(tmp_path, cache_dir, n_conv=20, epochs=15, lr=3e-3, schedule="cosine")
    start = loss_on_batch(engine, examples, tok.pad_token_id)
    state = trainer.fit()
    engine.eval()
    end = loss_on_batch(engine, examples, tok.pad_token_id)
    assert state.step == 75 and start > 5.0
    assert end < 0.15 * start, (start, end)
