"""BIG-Bench-Hard: the 27 tasks of suzgunmirac/BIG-Bench-Hard, scored by normalised exact match.

Data: one `<task>.json` per task, `{"examples": [{"input", "target"}]}` (250 examples; causal_judgement
187, penguins_in_a_table 146, snarks 178). A copy ships with the package, in `r1ci/tasks/data/bbh/`
(MIT licence and source in that folder), so everything runs offline. The directory is, first found:
  1. `set_data_dir(path)` (stages call it with `task_mix.bbh_dir`);
  2. the environment variable `R1CI_BBH_DIR`;
  3. the shipped copy, `PACKAGED_DIR`.
A directory that is given but lacks a task's file is an error, never a silent fallback.

Answers: each task has one answer kind (`TASK_KINDS`) with its own instruction and comparison.
Multiple choice accepts `(A)`, `A`, `A)`, `A.`, `(A) <option text>` and the option's text alone.
Three examples in the source data (movie_recommendation, ruin_names) have a text target because their
options were split at commas; those compare by text.
"""

from __future__ import annotations

import json
import os
import random
import re
from functools import cache
from pathlib import Path
from typing import Any

from r1ci.tasks.base import ANSWER_INSTRUCTION, TaskBase, TaskItem
from r1ci.tasks.registry import register

# Task -> answer kind. The names are the data files' stems.
TASK_KINDS: dict[str, str] = {
    "boolean_expressions": "true_false",
    "causal_judgement": "yes_no",
    "date_understanding": "choice",
    "disambiguation_qa": "choice",
    "dyck_languages": "dyck",
    "formal_fallacies": "valid_invalid",
    "geometric_shapes": "choice",
    "hyperbaton": "choice",
    "logical_deduction_five_objects": "choice",
    "logical_deduction_seven_objects": "choice",
    "logical_deduction_three_objects": "choice",
    "movie_recommendation": "choice",
    "multistep_arithmetic_two": "number",
    "navigate": "yes_no",
    "object_counting": "number",
    "penguins_in_a_table": "choice",
    "reasoning_about_colored_objects": "choice",
    "ruin_names": "choice",
    "salient_translation_error_detection": "choice",
    "snarks": "choice",
    "sports_understanding": "yes_no",
    "temporal_sequences": "choice",
    "tracking_shuffled_objects_five_objects": "choice",
    "tracking_shuffled_objects_seven_objects": "choice",
    "tracking_shuffled_objects_three_objects": "choice",
    "web_of_lies": "yes_no",
    "word_sorting": "words",
}
BBH_TASKS: tuple[str, ...] = tuple(sorted(TASK_KINDS))

INSTRUCTIONS: dict[str, str] = {
    "choice": "Answer with the letter of the correct option in parentheses, e.g. (A).",
    "true_false": "Answer with True or False.",
    "yes_no": "Answer with Yes or No.",
    "valid_invalid": "Answer with valid or invalid.",
    "number": "Answer with a single integer.",
    "words": "Answer with the words sorted alphabetically, separated by single spaces.",
    # A space before the closing ">>>" keeps a final ">" bracket apart from the answer marker.
    "dyck": "Answer with only the closing brackets that complete the sequence, separated by spaces, "
            "with a space before the closing >>>.",
}

PACKAGED_DIR = Path(__file__).resolve().parent / "data" / "bbh"

_data_dir: Path | None = None


def set_data_dir(path: str | Path | None) -> None:
    """Read BBH files from `path` from now on (None: back to $R1CI_BBH_DIR or the shipped copy)."""
    global _data_dir
    _data_dir = None if path is None else Path(path).expanduser()


def data_dir() -> Path:
    """Where the task files are read from (see the module docstring for the order)."""
    if _data_dir is not None:
        return _data_dir
    env = os.environ.get("R1CI_BBH_DIR")
    return Path(env).expanduser() if env else PACKAGED_DIR


def load_examples(task: str) -> list[dict[str, str]]:
    """The task's examples, from the configured directory."""
    path = data_dir() / f"{task}.json"
    if not path.is_file():
        raise FileNotFoundError(f"BBH file {path} not found (directory from set_data_dir, task_mix.bbh_dir "
                                f"or R1CI_BBH_DIR; unset them to use the copy shipped in {PACKAGED_DIR})")
    return _read(path)


@cache
def _read_cached(path: str, mtime: float) -> tuple[dict[str, str], ...]:
    data = json.loads(Path(path).read_text())
    examples = data["examples"] if isinstance(data, dict) else None
    if not isinstance(examples, list) or not all(
            isinstance(e, dict) and isinstance(e.get("input"), str) and isinstance(e.get("target"), str)
            for e in examples):
        raise ValueError(f"{path}: expected {{'examples': [{{'input': str, 'target': str}}, ...]}}")
    return tuple({"input": e["input"], "target": e["target"]} for e in examples)


def _read(path: Path) -> list[dict[str, str]]:
    return list(_read_cached(str(path), path.stat().st_mtime))


class BBHTask(TaskBase):
    """One BBH task: a seeded sample of its fixed examples, scored by normalised exact match."""

    source = "bbh"

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind = TASK_KINDS[name]

    def _generate(self, n: int, seed: int) -> list[TaskItem]:
        examples = load_examples(self.name)
        order = list(range(len(examples)))
        random.Random(seed).shuffle(order)
        return [self._item(i, examples[i]) for i in order[:max(n, 0)]]

    def _item(self, index: int, example: dict[str, str]) -> TaskItem:
        question = f"{example['input']}\n\n{INSTRUCTIONS[self.kind]}{ANSWER_INSTRUCTION}"
        options = parse_options(example["input"]) if self.kind == "choice" else {}
        meta: dict[str, Any] = {"index": index, "kind": self.kind, "options": options}
        return TaskItem(id=f"{self.name}-{index}", task=self.name, question=question,
                        answer=example["target"], meta=meta)

    def _score(self, answer: str, item: TaskItem) -> float:
        return 1.0 if matches(answer, item.answer, item.meta["kind"], item.meta["options"]) else 0.0


_OPTION = re.compile(r"^\(([A-Z])\)\s*(.*?)\s*$", re.MULTILINE)


def parse_options(text: str) -> dict[str, str]:
    """Option letter -> option text, from lines like `(A) 12/11/1937`."""
    return {m[1]: m[2] for m in _OPTION.finditer(text)}


def matches(answer: str, target: str | None, kind: str, options: dict[str, str]) -> bool:
    """Whether `answer` equals `target` under the normalisation for this answer kind."""
    if target is None:
        return False
    if kind == "dyck":
        return _squash(answer) == _squash(target)
    if kind == "words":
        return _words(answer) == _words(target)
    if kind == "number":
        return _number(answer) is not None and _number(answer) == _number(target)
    if kind == "choice" and re.fullmatch(r"\([A-Z]\)", target):
        return _choice(answer, target[1], options)
    return _norm(answer) == _norm(target)


def _norm(s: str) -> str:
    """Lower case, single spaces, without surrounding markdown, quotes, brackets or a final period."""
    s = " ".join(s.split()).lower()
    for _ in range(3):
        s = s.strip().strip("*`\"'").rstrip(".").strip()
        if len(s) >= 2 and s[0] + s[-1] in ("()", "[]", "{}"):
            s = s[1:-1]
    return s


def _squash(s: str) -> str:
    return re.sub(r"[\s,]", "", s)


def _words(s: str) -> list[str]:
    return re.split(r"[\s,]+", _norm(s)) if _norm(s) else []


def _number(s: str) -> float | None:
    s = _norm(s).replace(",", "").replace(" ", "")
    if len(s) > 100:
        return None
    try:
        return float(s)
    except ValueError:
        return None


_LETTER_FORM = re.compile(r"\(?([a-z])\)?[.:]?(?:\s+(.*))?")


def _choice(answer: str, letter: str, options: dict[str, str]) -> bool:
    """`(B)`, `B`, `B)`, `B.`, `(B) text` (text must be option B's) or option B's text alone."""
    text = " ".join(answer.split()).lower().strip().strip("*`\"'").rstrip(".").strip()
    m = _LETTER_FORM.fullmatch(text)
    if m and (m[2] is None or _norm(m[2]) == _norm(options.get(m[1].upper(), ""))):
        return m[1] == letter.lower()
    same_text = [k for k, v in options.items() if _norm(v) == _norm(answer)]
    return same_text == [letter]


def _register_all() -> None:
    for name in BBH_TASKS:
        register(name, "bbh", lambda name=name: BBHTask(name))


_register_all()
