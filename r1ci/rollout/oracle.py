"""The oracle teacher: an Engine that writes Code-Interpreter turns from a task's reference solver.

When no API or large local model is at hand, procedural tasks can still teach the format: brief
reasoning, a code block (the task's honest solver), the REAL interpreter output (it runs in the sandbox
like any rollout), and the answer read off that output. Three shapes, chosen per trajectory:
  direct: code -> answer
  fix:    code with a bug -> the error -> fixed code -> answer         (iterative fixing, multi-turn)
  check:  code -> candidate answer -> code that re-checks it -> answer (self-checking, multi-turn)
Because it is an Engine, oracle trajectories go through the same loop, sandbox and tokenisation as
every model's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from r1ci.rollout.engines.base import GenOutput, Sampling
from r1ci.rollout.engines.lifecycle import EngineState, Lifecycle
from r1ci.rollout.loop import RESULTS_PREFIX
from r1ci.seeds import split_turn_seed
from r1ci.tasks import TaskItem
from r1ci.tasks.programs import reference_program

SHAPES = ("direct", "fix", "check")


@dataclass(frozen=True)
class OracleScript:
    item: TaskItem
    shape: str
    solver: str  # Python source that prints the answer


def _last_output(text: str) -> str:
    """The interpreter output the model saw last (what the oracle's answer must be read from)."""
    tail = text.rsplit(RESULTS_PREFIX, 1)[-1]
    return tail.strip()


def _code(src: str) -> str:
    return f"```python\n{src.rstrip()}\n```\n"


def _buggy(src: str) -> str:
    """A first attempt that fails the way real first attempts do: a misspelled name."""
    return "result_value = undefined_helper()\n" + src


def _checker(src: str, candidate: str) -> str:
    return (f"import io, contextlib\ncandidate = {candidate!r}\nbuf = io.StringIO()\n"
            f"with contextlib.redirect_stdout(buf):\n    exec({src!r}, {{'__name__': '__main__'}})\n"
            "print('check passed' if buf.getvalue().strip() == candidate else 'check FAILED')")


def next_turn(script: OracleScript, turn: int, seen: str) -> str:
    """The oracle's reply at `turn`, given everything generated so far (`seen`)."""
    task = script.item.task.replace("_", " ")
    if turn == 0:
        lead = f"This {task} problem is easiest to solve exactly with code."
        src = _buggy(script.solver) if script.shape == "fix" else script.solver
        return f"{lead}\n{_code(src)}"
    out = _last_output(seen)
    if script.shape == "fix" and turn == 1:
        return f"The code failed: {out.splitlines()[-1] if out else 'an error'}. Let me fix it.\n{_code(script.solver)}"
    if script.shape == "check" and turn == 1:
        return (f"The program printed a candidate answer <<<{out}>>>. Let me check it with code before "
                f"answering.\n{_code(_checker(script.solver, out))}")
    if script.shape == "check":
        return f"The check passed, so the answer is <<<{_first_answer(seen)}>>>"
    return f"The program printed the result, so the answer is <<<{out}>>>"


def _first_answer(seen: str) -> str:
    from r1ci.tasks import extract_answer

    head = seen.split("Let me check it with code", 1)[0]
    return extract_answer(head) or ""


class OracleEngine(Lifecycle):
    """Engine whose replies come from `next_turn`; the trajectory's seed selects its script."""

    def __init__(self, tokenizer, scripts: dict[int, OracleScript]):
        self.tokenizer = tokenizer
        self.scripts = scripts

    async def generate(self, prompt_ids: list[int], sampling: Sampling) -> GenOutput:
        self.require("generate", EngineState.AWAKE)
        assert sampling.seed is not None, "oracle jobs need seeds (they select the script)"
        traj_seed, turn = split_turn_seed(sampling.seed)
        seen = self.tokenizer.decode(prompt_ids, skip_special_tokens=True)
        text = next_turn(self.scripts[traj_seed], turn, seen)
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        if not text.endswith("```\n"):  # a final answer ends the assistant turn, as a model would
            ids.append(self.tokenizer.eos_token_id)
        return GenOutput(token_ids=ids, logprobs=[0.0] * len(ids), finish_reason="stop",
                         stop_str="```\n" if text.endswith("```\n") else None)

    def update_weights(self, weights) -> None:
        raise NotImplementedError("the oracle has no weights")

    def close(self) -> None:
        pass


def oracle_scripts(items: list[TaskItem], shape_weights: dict[str, float], seed: int) -> dict[int, OracleScript]:
    """One script per item whose task has a reference program (index -> script); others are skipped."""
    rng = random.Random(seed)
    shapes, weights = zip(*shape_weights.items())
    scripts = {}
    for i, item in enumerate(items):
        program = reference_program(item)
        if program is not None:
            scripts[i] = OracleScript(item, rng.choices(shapes, weights)[0], program)
    return scripts
