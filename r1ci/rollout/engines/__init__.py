"""Generation engines behind one interface (engines/base.py); `make_engine` picks one from the config."""

from __future__ import annotations

import os

from r1ci.config import ConfigError, EngineConfig, ModelConfig
from r1ci.rollout.engines.base import Engine, GenOutput, Sampling

__all__ = ["Engine", "GenOutput", "Sampling", "engine_sampling", "make_engine"]


def engine_sampling(engine: EngineConfig) -> Sampling:
    """How eval, synthesis and the p estimate sample (`engine.temperature`, `engine.top_p`; the p estimate
    sets each job's temperature from `curriculum.temperatures`). RL samples at `grpo.temperature`."""
    return Sampling(temperature=engine.temperature, top_p=engine.top_p)


def make_engine(engine: EngineConfig, model: ModelConfig, model_path: str, seed: int) -> Engine:
    """Build `engine.kind` serving `model_path` (the weights of `model`, or an SFT/RL run's model/ dir).

    Each backend is imported only when chosen: vLLM takes seconds to import and the openai engine must
    work on a machine without it.
    """
    if engine.kind == "vllm":
        from r1ci.rollout.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model_path, dtype=model.dtype, seed=seed,
                          max_model_len=model.max_prompt_len + model.max_response_len,
                          tensor_parallel_size=model.tensor_parallel_size,
                          gpu_memory_utilization=model.gpu_memory_utilization,
                          enforce_eager=engine.enforce_eager, kv_cache_gib=engine.kv_cache_gib,
                          sleep_level=model.sleep_level)
    if engine.kind == "hf":
        from r1ci.rollout.engines.hf_engine import HFEngine

        return HFEngine(model_path, dtype=model.dtype, seed=seed)
    if engine.kind == "openai":
        from transformers import AutoTokenizer

        from r1ci.rollout.engines.openai_engine import OpenAIEngine

        if not engine.base_url:
            raise ConfigError("engine.base_url: required with engine.kind=openai")
        # The local tokenizer (of model_path) turns prompts and replies into the ids trajectories hold.
        return OpenAIEngine(engine.base_url, engine.api_model or str(model_path),
                            AutoTokenizer.from_pretrained(str(model_path)), mode=engine.api_mode,
                            dialect=engine.api_dialect, api_key=os.environ.get(engine.api_key_env),
                            timeout_s=engine.api_timeout_s, max_retries=engine.api_max_retries,
                            max_concurrency=engine.max_concurrency)
    raise ValueError(f"engine.kind: unknown engine {engine.kind!r}")
