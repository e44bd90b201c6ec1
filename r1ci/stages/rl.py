"""Stage rl: GRPO of the policy on the training tasks' items (paper section "RL").

Starts from `grpo.init_model` (an SFT run's model/ dir; default: model.path), which is also the
frozen KL reference. Items: `<paths.input_dir>/train.jsonl` when given, else generated like prepare_data.
Which items each step may draw: the curriculum (conf/curriculum; staged/difficulty read p from
`curriculum.potential_dir`, a stage=potential run dir).
Writes, in the run's output dir:
    checkpoints/   every grpo.save_every steps and at the end (resume: rerun the same command)
    model/         the final policy in HF format (stage=eval loads it)
    rl_history.jsonl every step's metrics, one JSON line each, across kills and resumes (also in W&B)

    python launch.py stage=rl model=tiny task_mix=smoke grpo.steps=20 grpo.init_model=<sft>/model
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from r1ci.config import Config
from r1ci.curriculum import build_schedule
from r1ci.tracking import NO_RUN, read_steps
from r1ci.models.tiny import resolve_model_path
from r1ci.rollout.engines import make_engine
from r1ci.rollout.loop import InterpreterFormatter, Style
from r1ci.runtime import output_dir
from r1ci.seeds import seed_everything
from r1ci.sandbox import make_sandbox
from r1ci.tasks.mix import training_items
from r1ci.training.checkpoint import CHECKPOINTS
from r1ci.training.engine import EngineSpec, build_engine
from r1ci.training.grpo import EngineReference, GRPOTrainer

log = logging.getLogger(__name__)
HISTORY = "rl_history.jsonl"


def run(cfg: Config, wb: Any = NO_RUN) -> dict:
    # compose: where things are
    out = output_dir(cfg)
    seed_everything(cfg.seed)
    model_path = cfg.grpo.init_model or resolve_model_path(cfg.model, cfg.paths.cache_dir)
    items = training_items(cfg, "rl")
    if not items:
        raise ValueError("no training items: check task_mix")

    # build: trainer engine, frozen reference, rollout engine (the W&B run `wb` is launch.py's)
    engine = build_engine(EngineSpec(model_path, cfg.model, cfg.grpo))
    reference = reference_model(model_path, engine, cfg.grpo.ref_on_rollout_engine) if cfg.grpo.kl_coef > 0 else None
    rollout_engine = make_engine(cfg.engine, cfg.model, model_path, cfg.seed)
    try:
        state, history = asyncio.run(_fit(cfg, engine, rollout_engine, reference, items, out, wb))
        # write, before the rollout engine closes: vLLM's shutdown also ends the process group that
        # ZeRO-3 gathers the full weights over
        from transformers import AutoTokenizer

        engine.save_pretrained(out / "model", AutoTokenizer.from_pretrained(model_path))
    finally:
        rollout_engine.close()
    first, last = _mean_reward(history[: max(1, len(history) // 4)]), _mean_reward(history[-max(1, len(history) // 4):])
    return {"out_dir": str(out), "model_dir": str(out / "model"), "steps": state.step,
            "reward_first_quarter": first, "reward_last_quarter": last, "metric": last}


async def _fit(cfg, engine, rollout_engine, reference, items, out, wb):
    async with make_sandbox(cfg.sandbox) as sandbox:
        trainer = build_trainer(cfg, engine, rollout_engine, reference, items, sandbox, out, wb)
        state = await trainer.fit()
    return state, read_steps(out / HISTORY) if engine.dist.is_main else trainer.history


def build_trainer(cfg: Config, engine, rollout_engine, reference, items, sandbox, out, wb) -> GRPOTrainer:
    """The GRPO loop over built parts (also scripts/gpu_check.py's)."""
    tok = rollout_engine.tokenizer
    return GRPOTrainer(
        engine=engine, rollout_engine=rollout_engine, sandbox=sandbox, reference=reference, items=items,
        schedule=build_schedule(cfg, items), style=Style.from_prompts(cfg.prompts, cfg.rollout.style),
        fmt=InterpreterFormatter(tok, cfg.rollout.max_exec_output_tokens), rollout_config=cfg.rollout,
        grpo=cfg.grpo, steps=cfg.grpo.total_steps(cfg.curriculum), ckpt_root=out / CHECKPOINTS, wandb_run=wb,
        pad_id=tok.pad_token_id, history_path=out / HISTORY)


def reference_model(model_path: str, engine, on_rollout_engine: bool):
    """The frozen KL reference: the starting policy, in the trainer's dtype and device, or its weights in
    host memory for the rollout engine to score with (grpo.ref_on_rollout_engine)."""
    import torch
    from transformers import AutoModelForCausalLM

    ref = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, engine.spec.dtype))
    if on_rollout_engine:
        return EngineReference({k: v.detach() for k, v in ref.state_dict().items()})
    ref.to(engine.device).eval().requires_grad_(False)
    return ref


def _mean_reward(rows: list[dict]) -> float:
    return sum(r["reward/mean"] for r in rows) / max(1, len(rows))
