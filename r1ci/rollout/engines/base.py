"""The engine interface: token ids in, token ids (+ logprobs) out. Text never round-trips through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Protocol, Sequence, Union


# What update_weights takes: a stream of (HF name, tensor) pairs (TrainEngine.iter_weights), or a dict
Weights = Union[Iterable[tuple[str, Any]], Mapping[str, Any]]


def weight_pairs(weights: Weights) -> Iterator[tuple[str, Any]]:
    return iter(weights.items() if isinstance(weights, Mapping) else weights)


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float = 1.0
    max_tokens: int = 1024
    stop: tuple[str, ...] = ()  # generation ends after (and includes) the first of these strings
    seed: int | None = None  # per-request seed: reproducible rollouts and exact resume
    regex: str | None = None  # constrained decoding: the output must match this regex (vLLM only)


@dataclass
class GenOutput:
    token_ids: list[int]
    logprobs: list[float]  # log-probability of each sampled token under the engine's weights
    finish_reason: str  # "stop" (eos or stop string) | "length"
    stop_str: str | None = None  # the stop string that ended generation, if any
    meta: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    """vLLM and hf engines also offer `async score(token_ids) -> list[float]` (log-prob of each token
    given the ones before it, 0.0 for the first): trainer.ref_on_rollout_engine scores the KL reference
    with it (a config check allows that option only with engine=vllm|hf)."""

    tokenizer: Any
    state: Any  # an EngineState: real engines follow r1ci/rollout/engines/lifecycle.py's cycle

    async def generate(self, prompt_ids: list[int], sampling: Sampling) -> GenOutput: ...

    def update_weights(self, weights: Weights) -> None:
        """Load weights in place; a stream is consumed tensor by tensor, never held whole."""

    def sleep(self) -> None: ...

    def wake_up(self, tags: Sequence[str] | None = None) -> None: ...

    def close(self) -> None: ...

