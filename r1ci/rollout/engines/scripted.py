"""An engine wrapper that constrains turn k of each trajectory to regexes[k] (vLLM structured outputs).

A random tiny model never writes code on its own; this makes it write real code blocks through the real
engine (its ids, logprobs and stops), for tests and benchmarks of the multi-turn loop.
"""

from __future__ import annotations

from dataclasses import replace

from r1ci.rollout.engines.base import Engine, GenOutput, Sampling
from r1ci.seeds import split_turn_seed



class TurnRegexEngine:
    def __init__(self, engine: Engine, regexes: list[str | None]):
        self.engine, self.regexes = engine, list(regexes)
        self.tokenizer = engine.tokenizer
        self.outputs: dict[int, list[GenOutput]] = {}  # trajectory seed -> outputs, turn by turn

    async def generate(self, prompt_ids: list[int], sampling: Sampling) -> GenOutput:
        assert sampling.seed is not None, "give each rollout job a seed so turns can be told apart"
        traj_seed, turn = split_turn_seed(sampling.seed)
        regex = self.regexes[turn] if turn < len(self.regexes) else None
        out = await self.engine.generate(prompt_ids, replace(sampling, regex=regex))
        self.outputs.setdefault(traj_seed, []).append(out)
        return out
