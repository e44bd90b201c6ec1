"""Test doubles for the rollout loop: a scripted engine (a random tiny model rarely writes code) and a
sandbox wrapper that injects infrastructure failures. The real sandbox runs everything else."""

from __future__ import annotations

from r1ci.rollout.engines.base import GenOutput, Sampling
from r1ci.sandbox.result import infra_error

LENGTH = "\x00length"  # suffix marking a scripted turn that ran out of tokens


class ScriptedEngine:
    """Replies with the next scripted turn, as a real engine would: up to and including the first stop
    string in it (the rest of the turn is what the next call generates). Records every call."""

    def __init__(self, tokenizer, turns: list[str]):
        self.tokenizer = tokenizer
        self.turns = list(turns)
        self.calls: list[tuple[list[int], Sampling]] = []

    async def generate(self, prompt_ids: list[int], sampling: Sampling) -> GenOutput:
        self.calls.append((list(prompt_ids), sampling))
        text = self.turns.pop(0) if self.turns else "I give up."
        cut = min((text.find(s) + len(s) for s in sampling.stop if s in text), default=len(text))
        if cut < len(text.removesuffix(LENGTH)):  # stopped early: the rest comes with the next call
            self.turns.insert(0, text[cut:])
            text = text[:cut]
        finish = "length" if text.endswith(LENGTH) else "stop"
        text = text.removesuffix(LENGTH)
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        logprobs = [-0.5 - 0.01 * i for i in range(len(ids))]
        stop = next((s for s in sampling.stop if text.endswith(s)), None)
        return GenOutput(token_ids=ids, logprobs=logprobs, finish_reason=finish, stop_str=stop)


class FlakySandbox:
    """Delegates to a real sandbox, but code containing `#INFRA` gets an infra error."""

    def __init__(self, real):
        self.real = real

    async def run(self, code: str, *, timeout_s: float | None = None):
        if "#INFRA" in code:
            return infra_error("injected by test")
        return await self.real.run(code, timeout_s=timeout_s)
