"""The Task protocol every task source implements (design.md, "Interfaces between parts")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

Source = Literal["symbench", "bbh", "reasoning_gym"]
SOURCES: tuple[Source, ...] = ("symbench", "bbh", "reasoning_gym")

# Appended to every question so the model knows the one answer format the extractor reads. It is the same
# for every prompting style: how to work (plain text, or code that is run) is the style's instruction,
# which the rollout adds from conf/prompts (`prompts.<style>.instruction`).
ANSWER_INSTRUCTION = "\n\nGive your final answer wrapped in triple angle brackets, like <<<answer>>>."


@dataclass
class TaskItem:
    """One question. `meta` holds whatever the verifier needs; it must be JSON-serialisable."""

    id: str
    task: str
    question: str
    answer: str | None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "question": self.question, "answer": self.answer,
                "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TaskItem":
        return cls(id=d["id"], task=d["task"], question=d["question"], answer=d["answer"],
                   meta=dict(d.get("meta") or {}))


@runtime_checkable
class Task(Protocol):
    """A named family of checkable questions.

    `generate(n, seed)` is deterministic for a seed. `score(answer, item)` returns a value in [0, 1] and
    never raises: an unparseable or hostile answer scores 0.0. `answer` is the already-extracted final
    answer (see `extract_answer`), or None when the model gave none.
    """

    name: str
    source: Source

    def generate(self, n: int, seed: int) -> list[TaskItem]: ...

    def score(self, answer: str | None, item: TaskItem) -> float: ...


@runtime_checkable
class SolvableTask(Task, Protocol):
    """A procedural task that can also write a program computing its answer (the oracle teacher)."""

    def solve(self, item: TaskItem) -> str: ...


class TaskBase:
    """Convenience base: subclasses set `name`/`source` and implement `_generate`/`_score`.

    It turns any exception in scoring into 0.0, so a hostile answer can never crash a rollout.
    """

    name: ClassVar[str]
    source: ClassVar[Source]

    def generate(self, n: int, seed: int) -> list[TaskItem]:
        return self._generate(n, seed)

    def score(self, answer: str | None, item: TaskItem) -> float:
        if answer is None:
            return 0.0
        try:
            value = float(self._score(answer, item))
        except Exception:  # noqa: BLE001 - scoring must never raise on model output
            return 0.0
        return min(1.0, max(0.0, value))

    def _generate(self, n: int, seed: int) -> list[TaskItem]:
        raise NotImplementedError

    def _score(self, answer: str, item: TaskItem) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, source={self.source!r})"
