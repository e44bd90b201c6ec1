"""Generation engines behind one interface (engines/base.py); `make_engine` picks one from the config."""

from __future__ import annotations

from typing import Any

from r1ci.rollout.engines.base import Engine, GenOutput, Sampling

__all__ = ["Engine", "GenOutput", "Sampling", "make_engine"]


def make_engine(cfg: Any, model_path: str | None = None) -> Engine:
    """Build `cfg.engine.kind` for `model_path` (default: cfg.model, building the tiny model if asked).

    Each backend is imported only when chosen: vLLM takes seconds to import and the openai engine must
    work on a machine without it.
    """
    from r1ci.models.tiny import resolve_model_path

    path = model_path or resolve_model_path(cfg.model, cfg.paths.cache_dir)
    kind = cfg.engine.kind
    if kind == "vllm":
        from r1ci.rollout.engines.vllm_engine import VLLMEngine

        return VLLMEngine(path, dtype=cfg.model.dtype, seed=cfg.seed,
                          max_model_len=cfg.model.max_prompt_len + cfg.model.max_response_len,
                          tensor_parallel_size=cfg.model.tensor_parallel_size,
                          gpu_memory_utilization=cfg.model.gpu_memory_utilization,
                          enforce_eager=cfg.engine.enforce_eager, kv_cache_gib=cfg.engine.kv_cache_gib,
                          sleep_level=cfg.model.sleep_level)
    if kind == "hf":
        from r1ci.rollout.engines.hf_engine import HFEngine

        return HFEngine(path, dtype=cfg.model.dtype, seed=cfg.seed)
    if kind == "openai":
        from r1ci.rollout.engines.openai_engine import OpenAIEngine

        return OpenAIEngine.from_cfg(cfg.engine, tokenizer_path=path)
    raise ValueError(f"engine.kind: unknown engine {kind!r}")
