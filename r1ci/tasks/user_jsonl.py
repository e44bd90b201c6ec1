"""User-data tasks: your own questions in a JSONL file, checked by one of four rules (examples/user_tasks/).

Each non-blank line of the file is one record:
    {"question": str, "answer": str | number, "id": str | int (optional),
     "choices": [str, ...] (optional, multiple_choice), "rule": str (optional, overrides the task's rule)}
The file is read strictly when the task mix is selected: a line that is not a JSON object, a missing or
wrongly typed field, an unknown key or rule, a duplicate id, or a reference answer its rule cannot read is
a ValueError naming `path:line`. Like BBH, the records are a fixed pool: `generate(n, seed)` is a seeded
sample of up to n of them. User tasks are eval-only (r1ci.tasks.mix.eval_only_tasks): a benchmark you
bring is never trained on.

Rules (`UserTaskConfig.rule`, r1ci/config.py):
  exact            normalised text equality (case, whitespace, surrounding quotes/brackets: bbh._norm)
  numeric          a number (1,234.5 / 3/4 / \\frac{3}{4} / 1e-3) within `tolerance`, relative to the
                   reference, absolute when |reference| < 1
  multiple_choice  the option's letter, "(B)", "B) text", or the option's text (bbh.matches)
  math             equivalence of two expressions (plain or simple LaTeX: \\frac, \\sqrt, ^, \\pi) read
                   by sympy: a - b is 0 after sympy's automatic simplification, or the two agree within
                   `tolerance` (at least MATH_MIN_TOLERANCE) at three fixed random points of their symbols
Scoring runs on model-written text in the trainer's process, so the math rule parses only a whitelisted
token set (no attribute access, no builtins), caps the length, digits, exponents and constant powers,
never calls simplify() (unbounded), and runs in a daemon thread with a time limit (MATH_TIMEOUT_S): a
hostile answer scores 0 within that limit, and the thread's bounded work then ends on its own.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from r1ci.tasks.base import ANSWER_INSTRUCTION, TaskBase, TaskItem
from r1ci.tasks.bbh import INSTRUCTIONS, _norm, matches, parse_options
from r1ci.tasks.registry import register_user

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = ("exact", "numeric", "multiple_choice", "math")
KEYS = ("id", "question", "answer", "choices", "rule")
# The answer-format line each rule adds before ANSWER_INSTRUCTION.
FORMATS = {
    "exact": "Answer with the final answer only.",
    "numeric": "Answer with a single number.",
    "multiple_choice": INSTRUCTIONS["choice"],
    "math": "Answer with a single mathematical expression (plain text or LaTeX).",
}
MAX_ANSWER_CHARS = 300  # (ours) longer numeric/math answers score 0 unread (references are short)
MAX_DIGITS = 60  # (ours) longest number literal the math rule reads
MAX_EXPONENT = 1000  # (ours) largest constant exponent: 2^(10^10) must never reach big-int arithmetic
MAX_MAGNITUDE = 1000  # (ours) a constant power must lie within 10^-1000 .. 10^1000 (nested powers)
MATH_MIN_TOLERANCE = 1e-9  # (ours) float evaluation noise: math compares at least this loosely
MATH_TIMEOUT_S = 2.0  # (ours) wall-clock limit of one sympy check; a slower one scores 0


# ----------------------------------------------------------------------------------------------- task

class UserJsonlTask(TaskBase):
    """One user task: the records of `cfg.path`, checked by `cfg.rule` (a record's own "rule" wins)."""

    def __init__(self, cfg: Any) -> None:
        self.name, self.source = str(cfg.name), str(cfg.source)
        self.rule, self.tolerance = str(cfg.rule), float(cfg.tolerance)
        if self.rule not in RULES:
            raise ValueError(f"user task {self.name!r}: unknown rule {self.rule!r}; expected one of {RULES}")
        self.path = resolve_path(cfg.path)
        self.items = read_records(self.path, self.name, self.rule, self.tolerance)

    def _generate(self, n: int, seed: int) -> list[TaskItem]:
        order = list(range(len(self.items)))
        random.Random(seed).shuffle(order)
        return [self.items[i] for i in order[:max(n, 0)]]

    def _score(self, answer: str, item: TaskItem) -> float:
        return 1.0 if check(item.meta["rule"], answer, item.answer, item.meta) else 0.0


def check(rule: str, answer: str, reference: str | None, meta: dict) -> bool:
    """Whether `answer` matches `reference` under `rule` (meta: tolerance, options). May raise on junk;
    TaskBase.score turns that into 0."""
    if reference is None:
        return False
    if rule == "exact":
        return _norm(answer) == _norm(reference)
    if rule == "numeric":
        got, ref = to_number(answer), to_number(reference)
        return got is not None and ref is not None and close(got, ref, meta["tolerance"])
    if rule == "multiple_choice":
        return matches(answer, reference, "choice", meta["options"])
    if rule == "math":
        return math_equal(answer, reference, meta["tolerance"])
    raise ValueError(f"unknown rule {rule!r}")


def close(got: float, ref: float, tolerance: float) -> bool:
    return abs(got - ref) <= tolerance * max(1.0, abs(ref))


def resolve_path(path: str | Path) -> Path:
    """An absolute path as is; a relative one against the working directory, then the repository root."""
    p = Path(path).expanduser()
    for candidate in ([p] if p.is_absolute() else [Path.cwd() / p, REPO_ROOT / p]):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"user task file {path!r} not found (a relative path is looked up in the working "
                            f"directory {Path.cwd()} and then in the repository root {REPO_ROOT})")


# ----------------------------------------------------------------------------------------- reading

def read_records(path: Path, task: str, rule: str, tolerance: float) -> list[TaskItem]:
    """Every record of the file as a TaskItem, checked strictly; errors name `path:line`."""
    items: list[TaskItem] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
            item = _item(record, where, lineno, task, rule, tolerance)
            if item.id in seen:
                raise ValueError(f"{where}: duplicate id {item.id!r} (also on line {seen[item.id]})")
            seen[item.id] = lineno
            items.append(item)
    if not items:
        raise ValueError(f"{path}: no records (expected one JSON object per line)")
    return items


def _item(record: Any, where: str, lineno: int, task: str, rule: str, tolerance: float) -> TaskItem:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    unknown = sorted(set(record) - set(KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; a record has {list(KEYS)}")
    for key in ("question", "answer"):
        if key not in record:
            raise ValueError(f"{where}: missing field {key!r}")
    question, answer = record["question"], record["answer"]
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"{where}: 'question' must be a non-empty string")
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)) or not str(answer).strip():
        raise ValueError(f"{where}: 'answer' must be a non-empty string or a number, got {answer!r}")
    rid = record.get("id", lineno)
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or not str(rid).strip():
        raise ValueError(f"{where}: 'id' must be a non-empty string or an integer, got {rid!r}")
    rule = record.get("rule", rule)
    if rule not in RULES:
        raise ValueError(f"{where}: unknown rule {rule!r}; expected one of {list(RULES)}")
    if "choices" in record and rule != "multiple_choice":
        raise ValueError(f"{where}: 'choices' is only for the multiple_choice rule (this record's: {rule!r})")

    reference, options, body = str(answer).strip(), {}, question.rstrip()
    if rule == "multiple_choice":
        options, body = _options(record, body, where)
        reference = f"({_choice_letter(reference, options, where)})"
    elif rule == "numeric" and to_number(reference) is None:
        raise ValueError(f"{where}: answer {reference!r} is not a number (numeric rule)")
    elif rule == "math" and parse_math(reference) is None:
        raise ValueError(f"{where}: answer {reference!r} is not an expression the math rule can read")
    text = f"{body}\n\n{FORMATS[rule]}{ANSWER_INSTRUCTION}"
    meta = {"line": lineno, "rule": rule, "tolerance": tolerance, "options": options}
    return TaskItem(id=f"{task}-{rid}", task=task, question=text, answer=reference, meta=meta)


def _options(record: dict, question: str, where: str) -> tuple[dict[str, str], str]:
    """(letter -> option text, question text listing them): from "choices", else from (A) lines."""
    listed = parse_options(question)
    if "choices" not in record:
        if not listed:
            raise ValueError(f"{where}: multiple_choice needs 'choices' or options listed in the question "
                             f"as '(A) ...' lines")
        return listed, question
    choices = record["choices"]
    if (not isinstance(choices, list) or not 2 <= len(choices) <= 26
            or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) and str(c).strip()
                       for c in choices)):
        raise ValueError(f"{where}: 'choices' must be a list of 2 to 26 non-empty strings")
    options = {chr(ord("A") + i): " ".join(str(c).split()) for i, c in enumerate(choices)}
    if listed:
        if {k: _norm(v) for k, v in listed.items()} != {k: _norm(v) for k, v in options.items()}:
            raise ValueError(f"{where}: 'choices' differ from the (A) ... options listed in the question")
        return options, question
    lines = "\n".join(f"({k}) {v}" for k, v in options.items())
    return options, f"{question}\n\nOptions:\n{lines}"


def _choice_letter(answer: str, options: dict[str, str], where: str) -> str:
    m = re.fullmatch(r"\(?([A-Za-z])\)?", answer)
    if m and m[1].upper() in options:
        return m[1].upper()
    same = [k for k, v in options.items() if _norm(v) == _norm(answer)]
    if len(same) == 1:
        return same[0]
    raise ValueError(f"{where}: answer {answer!r} is neither an option letter {sorted(options)} nor the text "
                     f"of exactly one option")


# ----------------------------------------------------------------------------------------- numbers

_FRAC = re.compile(r"([+-]?)\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")


def to_number(text: str) -> float | None:
    """A finite number from `text`: 1,234.5 / -3/4 / \\frac{3}{4} / 2.5e-3 / $12 / 45% / x = 7; else None."""
    s = text.strip()
    if len(s) > MAX_ANSWER_CHARS:
        return None
    s = s.split("=")[-1]
    s = re.sub(r"\\[,!; ]|\\left|\\right|\\%|%|\\\$|\$|\\text\{[^{}]*\}", "", s)
    s = _norm(s).replace(" ", "")
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)
    m = _FRAC.fullmatch(s)
    if m:
        s = f"{m[1]}{m[2]}/{m[3]}"
    try:
        if "/" in s:
            num, den = s.split("/")
            value = float(Fraction(num) / Fraction(den))
        else:
            value = float(s)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


# -------------------------------------------------------------------------------------------- math

_LATEX_NAMES = {"cdot": "*", "times": "*", "div": "/", "pi": " pi ", "infty": " oo ", "ln": " ln ",
                "log": " log ", "exp": " exp ", "sin": " sin ", "cos": " cos ", "tan": " tan ",
                "left": "", "right": "", "displaystyle": ""}
_LATEX_DROPPED = ("text", "mathrm", "textbf", "mbox")  # units and words: "5\text{ cm}" reads as 5
_SAFE = re.compile(r"[0-9A-Za-z\s+\-*/^().,]*")


def latex_to_plain(text: str) -> str:
    """Simple LaTeX -> sympy syntax: \\frac{a}{b} (also \\dfrac, \\frac12), \\sqrt[n]{x}, x^{..}, \\cdot,
    \\pi, \\left( ...; $..$ and \\boxed{} are unwrapped, \\text{} dropped. Unknown commands raise."""
    s = text.strip().strip("$").strip()
    s = re.sub(r"^\\[\[(]|\\[\])]$", "", s)
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|\\%|%|\\[,!;: ]", "", s)
    return _convert(s, 0)


def _convert(s: str, depth: int) -> str:
    if depth > 20:
        raise ValueError("LaTeX nested too deeply")
    out, i = [], 0
    while i < len(s):
        m = re.match(r"\\([A-Za-z]+)", s[i:])
        if m:
            name, i = m[1], i + len(m[0])
            if name in ("frac", "dfrac", "tfrac"):
                num, i = _arg(s, i, depth)
                den, i = _arg(s, i, depth)
                out.append(f"(({num})/({den}))")
            elif name == "sqrt":
                root = None
                if s[i:].lstrip().startswith("["):
                    j = s.index("[", i)
                    k = s.index("]", j)
                    root, i = _convert(s[j + 1:k], depth + 1), k + 1
                arg, i = _arg(s, i, depth)
                out.append(f"sqrt({arg})" if root is None else f"(({arg})**(1/({root})))")
            elif name == "boxed":
                arg, i = _arg(s, i, depth)
                out.append(f"({arg})")
            elif name in _LATEX_DROPPED:
                _, i = _arg(s, i, depth)
                out.append(" ")
            elif name in _LATEX_NAMES:
                out.append(_LATEX_NAMES[name])
            else:
                raise ValueError(f"unsupported LaTeX command \\{name}")
        elif s[i] == "\\":
            raise ValueError(f"unsupported LaTeX at {s[i:i + 2]!r}")
        else:
            out.append({"{": "(", "}": ")"}.get(s[i], s[i]))
            i += 1
    return "".join(out)


def _arg(s: str, i: int, depth: int) -> tuple[str, int]:
    """A command's argument at s[i:]: a {balanced group} (converted) or one character (\\frac12)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        raise ValueError("LaTeX command without its argument")
    if s[i] != "{":
        return s[i], i + 1
    level = 0
    for j in range(i, len(s)):
        level += {"{": 1, "}": -1}.get(s[j], 0)
        if level == 0:
            return _convert(s[i + 1:j], depth + 1), j + 1
    raise ValueError("unbalanced braces")


@cache
def _sympy_env() -> tuple[dict, tuple]:
    """The parser's whole namespace (no builtins) and transformations, built once."""
    import sympy
    from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication_application,
                                            standard_transformations)

    names = ("Integer", "Float", "Rational", "Symbol", "Number", "Mul", "Add", "Pow", "sqrt", "exp", "log",
             "sin", "cos", "tan", "pi", "oo", "E", "I")
    env = {"__builtins__": {}, **{n: getattr(sympy, n) for n in names}, "ln": sympy.log, "e": sympy.E}
    return env, standard_transformations + (implicit_multiplication_application, convert_xor)


@lru_cache(maxsize=4096)  # references are parsed again for every answer to them
def parse_math(text: str) -> tuple | None:
    """`text` as a tuple of sympy expressions (a tuple answer "1, 2" has two), or None when it is not
    readable within the bounds above. Parsing itself is safe: only whitelisted tokens reach sympy."""
    if len(text) > MAX_ANSWER_CHARS:
        return None
    try:
        s = latex_to_plain(text).split("=")[-1].strip()
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", s):  # 1,234 is a number, not a tuple
            s = s.replace(",", "")
        if not s or len(s) > MAX_ANSWER_CHARS or not _SAFE.fullmatch(s) or "__" in s:
            return None
        if re.search(r"[A-Za-z_]\s*\.|\.\s*[A-Za-z_]", s) or re.search(rf"\d{{{MAX_DIGITS + 1}}}", s):
            return None  # attribute access (x.__class__), a huge literal
        return tuple(_parse_one(_strip_outer(part)) for part in _split_top(_strip_outer(s)))
    except Exception:  # noqa: BLE001 - unreadable is not an error here, the caller decides
        return None


def _strip_outer(s: str) -> str:
    """Without parentheses around the whole: "((2, 3))" -> "2, 3", but "(1)(2)" stays."""
    s = s.strip()
    while s.startswith("(") and _closing(s) == len(s) - 1:
        s = s[1:-1].strip()
    return s


def _closing(s: str) -> int:
    """Index of the parenthesis closing s[0], or -1."""
    depth = 0
    for i, ch in enumerate(s):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i
    return -1


def _split_top(s: str) -> list[str]:
    """`s` split at commas outside parentheses: "1, f(2, 3)" -> ["1", " f(2, 3)"]."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    return parts + [s[start:]]


def _parse_one(s: str):
    import sympy
    from sympy.parsing.sympy_parser import parse_expr

    env, transformations = _sympy_env()
    raw = parse_expr(s, global_dict=dict(env), transformations=transformations, evaluate=False)
    for node in sympy.preorder_traversal(raw):  # bound big-int work before anything is evaluated exactly
        if isinstance(node, sympy.Pow) and not node.exp.free_symbols:
            if not abs(sympy.N(node.exp, 15)) <= MAX_EXPONENT:
                raise ValueError("exponent too large")
            size = abs(sympy.N(node, 15)) if not node.base.free_symbols else 1
            low, high = sympy.Float(f"1e-{MAX_MAGNITUDE}"), sympy.Float(f"1e{MAX_MAGNITUDE}")
            if size != 0 and not low <= size <= high:
                raise ValueError("power too large or too small")
    return parse_expr(s, global_dict=dict(env), transformations=transformations)


def math_equal(answer: str, reference: str, tolerance: float, timeout_s: float = MATH_TIMEOUT_S) -> bool:
    """Whether two expressions are equivalent; False when either is unreadable or the check runs past
    `timeout_s` (it runs in a daemon thread that is left to finish on its own: inputs are bounded)."""
    result: list[bool] = []

    def work() -> None:
        got, ref = parse_math(answer), parse_math(reference)
        if got is None or ref is None or len(got) != len(ref):
            result.append(False)
            return
        result.append(all(_equivalent(a, b, tolerance) for a, b in zip(got, ref)))

    thread = threading.Thread(target=work, name="r1ci-math-check", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(result and result[0])


def _equivalent(a, b, tolerance: float) -> bool:
    """Equal as written after sympy's automatic simplification, or numerically close at fixed random
    points in (0.5, 2) for each free symbol: a bounded check (simplify() is not: (a+b+...)^1000 expands)."""
    try:
        diff = a - b
        if diff == 0:
            return True
        symbols = sorted(a.free_symbols | b.free_symbols, key=str)
        rng = random.Random(0)
        points = [{x: 0.5 + 1.5 * rng.random() for x in symbols} for _ in range(3 if symbols else 1)]
        tol = max(tolerance, MATH_MIN_TOLERANCE)
        for point in points:
            got, ref = complex(a.evalf(30, subs=point)), complex(b.evalf(30, subs=point))
            if not abs(got - ref) <= tol * max(1.0, abs(ref)):
                return False
        return True
    except Exception:  # noqa: BLE001 - nan, zoo, overflow, unsupported operations: not equal
        return False


# ------------------------------------------------------------------------------------ registration

@dataclass(frozen=True)
class _Factory:
    task: UserJsonlTask

    def __call__(self) -> UserJsonlTask:
        return self.task


def register_user_tasks(task_mix: Any) -> list[str]:
    """Read every `task_mix.user_tasks` file (errors name file and line) and register each task under its
    name; returns the names. A name that is a built-in task's, or given twice, is a ValueError."""
    names: list[str] = []
    for cfg in task_mix.user_tasks:
        if cfg.name in names:
            raise ValueError(f"task_mix.user_tasks: the name {cfg.name!r} is given twice")
        task = UserJsonlTask(cfg)
        register_user(task.name, task.source, _Factory(task))
        names.append(task.name)
    return names
