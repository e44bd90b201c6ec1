"""GRPOTrainer.update on hand-built rollouts with the real torch engine and tiny model: PPO mini-batch
updates (grpo.updates_per_batch) and the interpreter-token mask (grpo.mask_interpreter)."""

from __future__ import annotations

import pytest
import torch

from r1ci.config import compose, validate
from r1ci.tracking import NullRun
from r1ci.rollout.loop import Style
from r1ci.rollout.trajectory import Trajectory
from r1ci.training import grpo as grpo_module
from r1ci.training.engine import EngineSpec, build_engine
from r1ci.training.grpo import GRPOTrainer, Rollouts

G = 4  # group size


def _rollouts(n_groups: int = 2) -> Rollouts:
    """Groups of G trajectories (prompt, model, interpreter, model tokens) with rewards that vary."""
    gen = torch.Generator().manual_seed(0)
    trajs, rewards = [], []
    for g in range(n_groups):
        prompt = torch.randint(10, 200, (12,), generator=gen).tolist()
        for j in range(G):
            t = Trajectory(item_id=f"q{g}", task="t")
            t.add_prompt(prompt, "p")
            ids = torch.randint(10, 200, (16,), generator=gen).tolist()
            t.add_model(ids[:6], [-1.0] * 6, "m", "stop")
            t.add_interpreter(ids[6:11], "i")
            t.add_model(ids[11:], [-1.0] * 5, "m", "stop")
            trajs.append(t)
            rewards.append(float(j % 2))  # half right in every group: nonzero advantages
    return Rollouts(trajs, rewards, list(range(len(trajs))), 0)


def _trainer(tiny_model_path, tmp_path, *overrides: str) -> GRPOTrainer:
    cfg = validate(compose(["stage=rl", "grpo.backend=torch", "grpo.kl_coef=0", f"grpo.group_size={G}",
                            "grpo.lr=3e-2", "grpo.lr_schedule=constant", "model.micro_batch_size=4", *overrides]))
    engine = build_engine(EngineSpec(str(tiny_model_path), cfg.model, cfg.grpo))
    return GRPOTrainer(engine=engine, rollout_engine=None, sandbox=None, reference=None, items=[], schedule=None,
                       style=Style("interpreter", "interpreter", "s"), fmt=None, rollout_config=cfg.rollout,
                       grpo=cfg.grpo, steps=10, ckpt_root=tmp_path, wandb_run=NullRun(), pad_id=0)


def _count_steps(trainer: GRPOTrainer, monkeypatch) -> list[float]:
    calls: list[float] = []
    real = trainer.engine.step
    monkeypatch.setattr(trainer.engine, "step", lambda lr: calls.append(lr) or real(lr))
    return calls


def test_one_update_per_batch_is_on_policy(tiny_model_path, tmp_path, monkeypatch):
    trainer = _trainer(tiny_model_path, tmp_path)
    steps = _count_steps(trainer, monkeypatch)
    m = trainer.update(_rollouts(), step=0)
    assert len(steps) == 1
    assert m["policy/ratio_abs_dev"] == 0.0 and m["policy/clip_frac"] == 0.0  # ratio exactly 1


def test_mini_batch_updates_move_the_ratio_and_engage_the_clip(tiny_model_path, tmp_path, monkeypatch):
    """With 4 updates per batch, mini-batches 2-4 are scored by a policy that has already moved: the ratio
    leaves 1 and, at this learning rate, the clip bounds some tokens."""
    trainer = _trainer(tiny_model_path, tmp_path, "grpo.updates_per_batch=4")
    steps = _count_steps(trainer, monkeypatch)
    before = [p.detach().clone() for p in trainer.engine.module.parameters()]
    m = trainer.update(_rollouts(), step=0)
    assert len(steps) == 4  # one optimiser step per mini-batch
    assert m["policy/ratio_abs_dev"] > 1e-3 and m["policy/clip_frac"] > 0.0, m
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.engine.module.parameters()))


def test_interpreter_tokens_are_masked_unless_the_ablation_asks(tiny_model_path, tmp_path, monkeypatch):
    seen: list[torch.Tensor] = []
    real = grpo_module.collate

    def spy(examples, micro, pad_id):
        batch = real(examples, micro, pad_id)
        seen.append(batch.loss_mask.clone())
        return batch

    monkeypatch.setattr(grpo_module, "collate", spy)
    ro = _rollouts(1)
    interp = ro.trajectories[0].segments[2]
    span = slice(interp.start, interp.start + len(interp.token_ids))
    _trainer(tiny_model_path, tmp_path).update(ro, step=0)
    assert seen and all(int(mask[:, span].sum()) == 0 for mask in seen)  # paper: no loss on interpreter tokens
    assert all(int(mask.sum()) == 11 * mask.shape[0] for mask in seen)  # the 11 model tokens of each row
    seen.clear()
    _trainer(tiny_model_path, tmp_path, "grpo.mask_interpreter=false").update(_rollouts(1), step=0)
    assert seen and all(bool(mask[:, span].all()) for mask in seen)  # v1 ablation: they are in the loss
    assert all(int(mask.sum()) == 16 * mask.shape[0] for mask in seen)


def test_paper_defaults_keep_one_update_and_masking():
    cfg = compose(["stage=rl", "model=qwen2.5-7b"])
    assert cfg.grpo.updates_per_batch == 1 and cfg.grpo.mask_interpreter is True
    with pytest.raises(Exception, match="updates_per_batch"):
        compose(["stage=rl", "grpo.updates_per_batch=0"])
