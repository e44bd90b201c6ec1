"""Stage sft: multi-turn SFT of the policy on teacher trajectories (paper section "SFT").

Reads  `<paths.input_dir>/sft.jsonl` (stage=synth; schema in r1ci/training/sft_data.py); without
       paths.input_dir, the newest synth run's of the same model and task mix under paths.root.
Writes, in the run's output dir:
    checkpoints/         every sft.save_every steps and at the end (resume: rerun the same command)
    model/               the final model + tokenizer in HF format (transformers, vLLM, stage=eval)
    sft_stats.json       data counts (kept, dropped as too long, tokens) and the final loss

    python launch.py stage=sft model=tiny paths.input_dir=outputs/synth/<run>
    torchrun --nproc_per_node 8 launch.py stage=sft model=qwen2.5-7b paths.input_dir=...
"""

from __future__ import annotations

import json
import logging
from typing import Any

from r1ci.config import Config
from r1ci.tracking import NO_RUN
from r1ci.models.tiny import resolve_model_path
from r1ci.runtime import input_dir, latest_output, output_dir
from r1ci.seeds import seed_everything
from r1ci.training.checkpoint import CHECKPOINTS
from r1ci.training.engine import EngineSpec, build_engine
from r1ci.training.sft import SFTTrainer
from r1ci.training.sft_data import SFT_FILE, file_sha, read_conversations, tokenize_conversations

log = logging.getLogger(__name__)


def run(cfg: Config, wb: Any = NO_RUN) -> dict:
    # compose: where things are
    out = output_dir(cfg)
    data_path = input_dir(cfg) / SFT_FILE if cfg.paths.input_dir else latest_output(cfg, "synth", SFT_FILE)
    if data_path is None or not data_path.exists():
        raise FileNotFoundError(f"{data_path or 'no synth run of this model and task mix'} not found: run "
                                "stage=synth first, or pass paths.input_dir=<its run dir>")
    log.info("sft data: %s", data_path)
    seed_everything(cfg.seed)
    model_path = resolve_model_path(cfg.model, cfg.paths.cache_dir)

    # build: data, engine, trainer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    max_len = cfg.model.max_prompt_len + cfg.model.max_response_len
    examples, stats = tokenize_conversations(tokenizer, read_conversations(data_path), max_len)
    log.info("sft data: %s", stats.as_dict())
    if not examples:
        raise ValueError(f"no conversation of {data_path} fits in {max_len} tokens")
    engine = build_engine(EngineSpec(model_path, cfg.model, cfg.sft))
    trainer = SFTTrainer(engine, examples, tokenizer.pad_token_id, cfg.sft, out / CHECKPOINTS, wb, file_sha(data_path))

    # loop
    state = trainer.fit()

    # write
    engine.save_pretrained(out / "model", tokenizer)
    results = {"out_dir": str(out), "model_dir": str(out / "model"), "steps": state.step,
               "final_loss": state.last_loss, "tokens_seen": state.tokens_seen, **stats.as_dict()}
    if engine.dist.is_main:
        (out / "sft_stats.json").write_text(json.dumps(results, indent=1))
        wb.log({f"sft/{k}": v for k, v in stats.as_dict().items()}, step=state.step)
    return {**results, "metric": state.last_loss}
