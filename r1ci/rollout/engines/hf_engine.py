"""transformers engine: a slow, transparent reference for the vLLM engine and a debugging aid.

One request at a time, decoded token by token with a KV cache, so stop strings, per-request seeds and
logprobs follow vLLM's semantics exactly (greedy output equals vLLM's, tests/rollout/test_engines.py):
- a stop string is searched in the decoded continuation (special tokens skipped, as vLLM does); the
  token that completes its first occurrence is the last one kept (include_stop_str_in_output);
- eos ends generation and is kept in the token ids;
- logprobs are the raw model's (before temperature / top_p), vLLM's default `raw_logprobs` mode.
The blocking work runs on one dedicated worker thread, so concurrent coroutines queue instead of
colliding and the event loop (sandbox calls, other engines) keeps running.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from r1ci.rollout.engines.base import GenOutput, Sampling, Weights, weight_pairs
from r1ci.rollout.engines.lifecycle import EngineState, Lifecycle


class HFEngine(Lifecycle):  # sleeping frees nothing: it holds no KV cache between calls
    def __init__(self, model_path: str, *, dtype: str = "float32", seed: int = 0, device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
        self.model.to(self.device)
        self.model.eval()
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        self._rng = torch.Generator(device=self.device).manual_seed(seed)  # for requests without a seed
        self._lock = threading.Lock()  # generate vs update_weights from another thread
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="hf-engine")

    async def generate(self, prompt_ids: list[int], sampling: Sampling) -> GenOutput:
        self.require("generate", EngineState.AWAKE)
        if self._pool is None:
            raise RuntimeError("HFEngine is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.generate_sync, list(prompt_ids), sampling)

    def generate_sync(self, prompt_ids: list[int], sampling: Sampling) -> GenOutput:
        import torch

        with self._lock, torch.inference_mode():
            rng = self._rng
            if sampling.seed is not None:
                rng = torch.Generator(device=self.device).manual_seed(sampling.seed)
            return self._decode(prompt_ids, sampling, rng)

    def _decode(self, prompt_ids: list[int], sampling: Sampling, rng: Any) -> GenOutput:
        import torch

        ids = torch.tensor([prompt_ids], device=self.device)
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)  # not [len, vocab] floats
        watcher = _StopWatcher(self.tokenizer, sampling.stop)
        token_ids: list[int] = []
        logprobs: list[float] = []
        finish, stop_str = "length", None
        while len(token_ids) < sampling.max_tokens:
            logits = out.logits[0, -1].float()
            tok = _sample(logits, sampling, rng)
            token_ids.append(tok)
            logprobs.append(float(torch.log_softmax(logits, -1)[tok]))
            if tok in self.eos_ids:
                finish = "stop"
                break
            stop_str = watcher.update(token_ids)
            if stop_str is not None:
                finish = "stop"
                break
            if len(token_ids) < sampling.max_tokens:
                out = self.model(input_ids=torch.tensor([[tok]], device=self.device),
                                 past_key_values=out.past_key_values, use_cache=True)
        return GenOutput(token_ids=token_ids, logprobs=logprobs, finish_reason=finish, stop_str=stop_str)

    async def score(self, token_ids: list[int]) -> list[float]:
        """Log-prob of every token given the ones before it (0.0 for the first), raw like vLLM's."""
        import torch

        from r1ci.models.logprobs import sequence_logprobs

        self.require("score", EngineState.AWAKE)

        def _score() -> list[float]:
            ids = torch.tensor([token_ids], device=self.device)
            with self._lock, torch.inference_mode():
                return [0.0] + sequence_logprobs(self.model, ids, torch.ones_like(ids))[0].float().tolist()

        return await asyncio.get_running_loop().run_in_executor(self._pool, _score)

    def update_weights(self, weights: Weights) -> None:
        """Copy each named tensor into the model as it arrives; a partial set is fine, an unknown name raises."""
        import torch

        self.require("update_weights", EngineState.WEIGHTS, EngineState.AWAKE)
        targets = self.model.state_dict()  # views of the live parameters (tied names share one)
        with self._lock, torch.no_grad():
            for name, tensor in weight_pairs(weights):
                if name not in targets:
                    raise KeyError(f"update_weights: unknown parameter name {name!r}")
                targets[name].copy_(tensor)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _sample(logits: Any, sampling: Sampling, rng: Any) -> int:
    """Greedy at temperature 0, else temperature + nucleus (top_p) sampling with the request's generator."""
    import torch

    if sampling.temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / sampling.temperature, -1)
    if sampling.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        drop = torch.cumsum(sorted_p, -1) - sorted_p >= sampling.top_p  # keep the smallest set reaching top_p
        sorted_p[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    return int(torch.multinomial(probs, 1, generator=rng))


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """eos from the generation config (an int or a list) and the tokenizer, as vLLM collects them."""
    ids: set[int] = set()
    gen_eos = getattr(model.generation_config, "eos_token_id", None)
    ids.update([gen_eos] if isinstance(gen_eos, int) else gen_eos or [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


class _StopWatcher:
    """Finds the first stop string in the decoded continuation (skipping special tokens, as vLLM does)."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...]):
        self.tok = tokenizer
        self.stops = [s for s in stops if s]

    def update(self, token_ids: list[int]) -> str | None:
        if not self.stops:
            return None
        # The whole continuation is re-decoded: cheap next to a forward pass, and a multi-byte character
        # split across tokens cannot shift offsets the way an incremental search could.
        text = self.tok.decode(token_ids, skip_special_tokens=True)
        for stop in self.stops:  # vLLM's order: the first listed stop string found wins
            if stop in text:
                return stop
        return None
