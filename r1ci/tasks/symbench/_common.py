"""Helpers shared by the SymBench task modules (discovery skips this module: leading underscore).

Several authors append here; keep each block self-contained and do not rewrite others' functions.
"""

from __future__ import annotations


# ---------------------------------------------------------------------------------------------------------
# Helpers added for the SymBench part-2 tasks (matrix/string/recipe/puzzle/MATH families).
# ---------------------------------------------------------------------------------------------------------
import inspect as _inspect
import random as _random
import re as _re
from fractions import Fraction as _Fraction
from typing import Any as _Any, Callable as _Callable, ClassVar as _ClassVar

from r1ci.tasks.base import ANSWER_INSTRUCTION as _ANSWER_INSTRUCTION, TaskBase as _TaskBase, TaskItem as _TaskItem

# Longest answer any part-2 verifier will look at; longer answers score 0 without being parsed.
MAX_ANSWER_CHARS = 4000
_QUOTES = "\"'`"
_SPLIT_RE = _re.compile(r"[\s,;]+")


def bounded_answer(answer: str, limit: int = MAX_ANSWER_CHARS) -> str | None:
    """The stripped answer without surrounding quotes, or None when it is too long to be a real answer."""
    if not isinstance(answer, str) or len(answer) > limit:
        return None
    s = answer.strip()
    while len(s) >= 2 and s[0] == s[-1] and s[0] in _QUOTES:
        s = s[1:-1].strip()
    return s


def answer_tokens(answer: str, limit: int = MAX_ANSWER_CHARS, drop: str = "[](){}") -> list[str] | None:
    """Split a list-like answer (`[1, 2]`, `"A","B"`, `1 2\\n3 4`) into tokens, dropping brackets and quotes.

    Returns None when the answer is over `limit` characters. Callers check token count and content.
    """
    s = bounded_answer(answer, limit)
    if s is None:
        return None
    s = s.translate({ord(c): " " for c in drop + _QUOTES})
    return [t for t in _SPLIT_RE.split(s) if t]


def parse_int(token: str, max_digits: int = 200) -> int | None:
    """A plain (optionally signed) decimal integer of at most `max_digits` digits, else None."""
    t = token.strip().replace("_", "")
    if not _re.fullmatch(r"[+-]?\d{1,%d}" % max_digits, t):
        return None
    return int(t)


def parse_int_list(answer: str, count: int, max_digits: int = 30) -> list[int] | None:
    """Exactly `count` integers from a list-like answer, else None."""
    toks = answer_tokens(answer, limit=max(64, count * (max_digits + 8)))
    if toks is None or len(toks) != count:
        return None
    vals = [parse_int(t, max_digits) for t in toks]
    return None if any(v is None for v in vals) else vals  # type: ignore[return-value]


_RATIONAL_RE = _re.compile(r"([+-]?)(\d{1,40})(?:\.(\d{0,40}))?(?:\s*/\s*([+-]?)(\d{1,40}))?")


def parse_rational(token: str) -> _Fraction | None:
    """An exact rational from `7`, `-2.25`, `3/4` or `-7/2` (bounded digits, no exponents), else None."""
    t = token.strip()
    if len(t) > 100:
        return None
    m = _RATIONAL_RE.fullmatch(t)
    if not m:
        return None
    sign, ip, fp, dsign, den = m.groups()
    value = _Fraction(int(ip + (fp or "")), 10 ** len(fp or ""))
    if den is not None:
        if int(den) == 0 or fp:
            return None
        value /= int(den)
        if dsign == "-":
            value = -value
    return -value if sign == "-" else value


def item_rng(name: str, seed: int, index: int) -> _random.Random:
    """A private RNG per item, so item i is the same whatever n is asked for (never global state)."""
    return _random.Random(f"{name}|{seed}|{index}")


def program(*funcs: _Callable[..., _Any], call: str) -> str:
    """Python source: the given module-level functions (self-contained, stdlib only) then `call`.

    Solvers are written as ordinary functions in the task modules, so the code the oracle shows is the
    code the tests run in-process and in a fresh interpreter.
    """
    parts = [_inspect.getsource(f).rstrip() for f in funcs]
    return "\n\n\n".join(parts) + "\n\n\n" + call.strip() + "\n"


class ProceduralTask(_TaskBase):
    """A SymBench task whose items come from `_make(rng, params)`; difficulty knobs are keyword arguments.

    Subclasses set `name`, `defaults` (knob -> default value), `harder` (a tougher preset, used by tests and
    docs) and implement `_make`, `_score` and `solve`.
    """

    source = "symbench"
    defaults: _ClassVar[dict[str, _Any]] = {}
    harder: _ClassVar[dict[str, _Any]] = {}

    def generate(self, n: int, seed: int, **difficulty: _Any) -> list[_TaskItem]:
        unknown = set(difficulty) - set(self.defaults)
        if unknown:
            raise TypeError(f"{self.name}: unknown difficulty knobs {sorted(unknown)}; known: {sorted(self.defaults)}")
        params = {**self.defaults, **difficulty}
        items = []
        for i in range(n):
            question, answer, meta = self._make(item_rng(self.name, seed, i), params)
            items.append(_TaskItem(id=f"{self.name}-{seed}-{i}", task=self.name,
                                   question=question.rstrip() + _ANSWER_INSTRUCTION, answer=answer, meta=meta))
        return items

    def _generate(self, n: int, seed: int) -> list[_TaskItem]:
        return self.generate(n, seed)

    def _make(self, rng: _random.Random, params: dict[str, _Any]) -> tuple[str, str | None, dict[str, _Any]]:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------------------
# Helpers added for the SymBench part-1 tasks (planning, puzzles, games).
# ---------------------------------------------------------------------------------------------------------
import ast as _ast

# Plans (moves, waypoints, multi-step assignments) are longer than plain answers; still bounded.
MAX_PLAN_CHARS = 20_000


def nesting_depth(s: str) -> int:
    """Deepest bracket nesting in `s` (any of ([{), counted without parsing."""
    depth = deepest = 0
    for ch in s:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    return deepest


def safe_literal(s: str, limit: int = MAX_PLAN_CHARS, max_depth: int = 6) -> _Any:
    """`ast.literal_eval` on a bounded, shallow string with no huge numbers; raises ValueError otherwise.

    Model output is never `eval`-ed; this refuses long or deeply nested input (parser recursion) and
    number literals long enough to be costly before it parses anything.
    """
    if not isinstance(s, str) or len(s) > limit or nesting_depth(s) > max_depth:
        raise ValueError("answer too long or too deeply nested")
    if _re.search(r"\d{40}|\*\*", s):
        raise ValueError("number literal too long")
    return _ast.literal_eval(s.strip())


def program_with_imports(imports: str, *funcs: _Callable[..., _Any], call: str) -> str:
    """Like `program`, with import lines first (solvers use the stdlib only)."""
    return imports.strip() + "\n\n\n" + program(*funcs, call=call)


def literal_or_none(s: str, limit: int = MAX_PLAN_CHARS, max_depth: int = 6) -> _Any:
    """`safe_literal`, but None instead of an exception for anything refused or unparseable."""
    try:
        return safe_literal(s, limit=limit, max_depth=max_depth)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
