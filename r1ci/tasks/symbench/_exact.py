"""A small, safe parser for exact math answers (MATH-style tasks) and an equality test.

Model output is never handed to `eval` or `sympy.sympify`. Answers are normalised (LaTeX \\frac, \\sqrt,
\\pi, unicode √ and π, degree signs), tokenised, and parsed by a recursive-descent grammar that knows only
numbers, + - * / ^, parentheses, sqrt(...) and pi. Lengths, digits, nesting and powers are capped before any
arithmetic, so `9^9^9^9` or a 10,000-character answer costs nothing. Equal values in any form match:
1/2 = 0.5 = \\frac{1}{2}, 3*sqrt(2)/2 = 3/sqrt(2) = sqrt(9/2).

The MATH-style tasks also take a plain decimal close to the exact value (`decimal_close`): the paper grades
these tasks leniently and CodeSteer's judge accepts values "< 1e-3 relative difference", so 2.1213 for
3*sqrt(2)/2 scores 1. Counts (integer references) still need the integer, up to float round-off.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy

_sympy = None


def _sp():
    """sympy, imported on first use: importing the task registry should not pay for it."""
    global _sympy
    if _sympy is None:
        import sympy as module

        _sympy = module
    return _sympy

MAX_CHARS = 160
MAX_DIGITS = 24
MAX_DEPTH = 24
MAX_LOG10 = 120  # a power may not exceed 10**120 in magnitude

# A plain decimal answer is accepted within DECIMAL_REL_TOL of a non-integer reference: the 1e-3 relative
# difference of CodeSteer's MATH judge (benchmark/run_math_*: is_equiv_func). An integer reference (a count,
# a whole-degree angle) allows only float round-off (41.99999999999998 for 42), never a neighbouring count.
DECIMAL_REL_TOL = 1e-3
INTEGER_REL_TOL = 1e-12
# One number with a decimal point or an exponent (two exponent digits at most, so float() stays finite),
# optionally preceded by "approximately"; anything else is an exact form and goes through parse_exact.
_DECIMAL = re.compile(r"(?:≈|~|approx\.?|approximately|about)?\s*"
                      r"([+-]?(?:\d{1,24}\.\d{0,24}|\.\d{1,24}|\d{1,24}(?=e))(?:e[+-]?\d{1,2})?)")

_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|(\*\*|[-+*/^()])|([a-z]+))")
_LATEX = [("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""), ("\\right", ""), ("\\cdot", "*"),
          ("\\times", "*"), ("\\pi", " pi "), ("\\,", ""), ("\\!", ""), ("\\;", ""), ("\\ ", ""),
          ("^\\circ", ""), ("^{\\circ}", ""), ("\\circ", ""), ("\\displaystyle", ""), ("\\boxed", ""),
          ("°", ""), ("π", " pi "), ("×", "*"), ("·", "*"), ("−", "-"), ("$", "")]
_UNIT_WORDS = re.compile(r"\b(square units|sq\.? units|units|unit|degrees|degree)\b\s*$")


class ParseError(ValueError):
    pass


def _replace_braced(s: str, command: str, build) -> str:
    """Replace `command{a}{b}...` (argument count from build's arity) by build(*args), innermost last."""
    nargs = build.__code__.co_argcount
    for _ in range(40):
        i = s.find(command + "{")
        if i < 0:
            return s
        j, args = i + len(command), []
        for _ in range(nargs):
            if j >= len(s) or s[j] != "{":
                raise ParseError(f"{command} needs {nargs} braced arguments")
            depth, k = 0, j
            while k < len(s):
                depth += {"{": 1, "}": -1}.get(s[k], 0)
                if depth == 0:
                    break
                k += 1
            if depth:
                raise ParseError("unbalanced braces")
            args.append(s[j + 1:k])
            j = k + 1
        s = s[:i] + build(*args) + s[j:]
    raise ParseError("too many LaTeX commands")


def normalise(text: str) -> str:
    s = text.strip()
    if len(s) > MAX_CHARS:
        raise ParseError("answer too long")
    for a, b in _LATEX:
        s = s.replace(a, b)
    s = s.replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    s = _replace_braced(s, "\\frac", lambda a, b: f"(({a})/({b}))")
    s = _replace_braced(s, "\\sqrt", lambda a: f"sqrt({a})")
    s = s.replace("\\sqrt", "√")
    s = re.sub(r"√\s*(\d+(?:\.\d+)?|pi)", r"sqrt(\1)", s).replace("√", "sqrt")
    s = s.replace("{", "(").replace("}", ")").replace("\\", "").lower()
    if "=" in s:  # "x = 3/4" -> "3/4"; only a plain name may stand on the left
        left, s = s.rsplit("=", 1)
        if not re.fullmatch(r"\s*[a-z_ ]*\s*", left):
            raise ParseError("equation")
    return _UNIT_WORDS.sub("", s.strip()).strip()


def tokenize(s: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    s = s.rstrip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            raise ParseError(f"unexpected character {s[pos]!r}")
        num, op, name = m.groups()
        if num is not None:
            if len(num.replace(".", "")) > MAX_DIGITS:
                raise ParseError("number too long")
            tokens.append(("num", num))
        elif op is not None:
            tokens.append(("op", "^" if op == "**" else op))
        else:
            if name not in ("sqrt", "pi"):
                raise ParseError(f"unknown name {name!r}")
            tokens.append(("name", name))
        pos = m.end()
    return tokens


class _Parser:
    """expr := term (+|- term)*; term := unary ((*|/|implicit) unary)*; unary := (+|-) unary | power;
    power := atom (^ unary)?; atom := number | pi | sqrt(expr) | (expr)."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.toks, self.i, self.depth = tokens, 0, 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise ParseError(f"expected {value or kind}")
        self.i += 1
        return tok[1]

    def parse(self) -> sympy.Expr:
        value = self.expr()
        if self.peek() is not None:
            raise ParseError("trailing input")
        return value

    def expr(self) -> sympy.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("too deeply nested")
        value = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take("op")
            right = self.term()
            value = value + right if op == "+" else value - right
        self.depth -= 1
        return value

    def term(self) -> sympy.Expr:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in (("op", "*"), ("op", "/")):
                self.i += 1
                right = self.unary()
                if tok[1] == "/" and right == 0:
                    raise ParseError("division by zero")
                value = value * right if tok[1] == "*" else value / right
            elif tok is not None and (tok[0] in ("num", "name") or tok == ("op", "(")):
                value = value * self.unary()  # implicit multiplication: 3sqrt(2), 2pi, 2(3)
            else:
                return value

    def unary(self) -> sympy.Expr:
        tok = self.peek()
        if tok in (("op", "-"), ("op", "+")):
            self.i += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ParseError("too deeply nested")
            value = self.unary()
            self.depth -= 1
            return -value if tok[1] == "-" else value
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.atom()
        if self.peek() != ("op", "^"):
            return base
        self.i += 1
        exponent = self.unary()
        return _safe_pow(base, exponent)

    def atom(self) -> sympy.Expr:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end")
        self.i += 1
        if tok[0] == "num":
            return _sp().Rational(tok[1])
        if tok == ("name", "pi"):
            return _sp().pi
        if tok == ("name", "sqrt"):
            self.take("op", "(")
            inner = self.expr()
            self.take("op", ")")
            return _safe_pow(inner, _sp().Rational(1, 2))
        if tok == ("op", "("):
            inner = self.expr()
            self.take("op", ")")
            return inner
        raise ParseError(f"unexpected {tok[1]!r}")


def _safe_pow(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """base**exponent only for small rational exponents and results below 10**MAX_LOG10."""
    if not exponent.is_Rational or abs(exponent.p) > 12 or exponent.q > 4:
        raise ParseError("exponent not allowed")
    magnitude = abs(float(_sp().N(base, 20)))
    if magnitude == 0:
        if exponent <= 0:
            raise ParseError("zero to a non-positive power")
        return _sp().Integer(0)
    if abs(math.log10(magnitude)) * abs(float(exponent)) > MAX_LOG10:
        raise ParseError("power too large")
    return base ** exponent


def parse_exact(text: str) -> sympy.Expr:
    """The exact value of an answer string; raises ParseError (a ValueError) on anything else."""
    expr = _Parser(tokenize(normalise(text))).parse()
    if expr.has(_sp().zoo, _sp().nan, _sp().oo, -_sp().oo):
        raise ParseError("not finite")
    return expr


def exact_equal(answer: str, reference: str) -> bool:
    """True when `answer` parses to the same real value as `reference` (checked to 50 significant digits).

    Both sides are exact expressions of small height (rationals, square roots, pi), so agreement to 50
    digits means equality; a decimal approximation like 2.1213 of 3*sqrt(2)/2 does not agree.
    """
    try:
        got = parse_exact(answer)
    except (ParseError, ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError):
        return False
    want = parse_exact(reference)
    diff = _sp().N(got - want, 60)
    if not diff.is_number:
        return False
    scale = max(1.0, abs(float(_sp().N(want, 20))))
    return abs(complex(diff)) <= 1e-45 * scale


def decimal_value(text: str) -> Fraction | None:
    """The exact value of a lone decimal answer (`2.1213`, `-0.5`, `2.1e-05`), else None.

    Units, `$` and `x =` are stripped as for exact answers. A plain integer is not a decimal (it is an exact
    answer), nor is an expression that merely contains decimals (`1.5*pi`).
    """
    try:
        s = normalise(text)
    except ParseError:
        return None
    m = _DECIMAL.fullmatch(s)
    if not m or not re.search(r"[.e]", m.group(1)):
        return None
    return Fraction(m.group(1))


def decimal_close(answer: str, reference: str) -> bool:
    """True when `answer` is a lone decimal within tolerance of the exact `reference` (never raises).

    Integer reference n: |d - n| < min(1/2, INTEGER_REL_TOL * max(1, |n|)), so only round-off passes. Other
    references v: |d - v| <= DECIMAL_REL_TOL * |v| (relative, so small probabilities need their digits too).
    """
    try:
        got = decimal_value(answer)
        if got is None:
            return False
        want = parse_exact(reference)
        if want.is_Integer:
            n = int(want)
            return abs(got - n) < min(Fraction(1, 2), Fraction(INTEGER_REL_TOL) * max(1, abs(n)))
        value = float(_sp().N(want, 30))
        return abs(float(got) - value) <= DECIMAL_REL_TOL * abs(value)
    except (ParseError, ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError):
        return False


class TemplatedExactTask:
    """Mixin for the MATH-style tasks: a question template drawn per item, an exact answer; scoring takes any
    equal exact form, or a decimal within tolerance (`decimal_close`).

    Subclasses (also ProceduralTask) set TEMPLATES = {name: (make(rng, scale) -> (question, params),
    solver(params) -> answer)}, FORMAT (the answer-format sentence) and SOLVER_HELPERS (functions the
    solver program needs besides the solver itself).
    """

    TEMPLATES: dict = {}
    FORMAT: str = ""
    SOLVER_HELPERS: tuple = ()

    def _make(self, rng, p):
        template = rng.choice(sorted(p["templates"]))
        make, solver = self.TEMPLATES[template]
        question, params = make(rng, p["scale"])
        answer = str(solver(params))
        return f"{question}\n{self.FORMAT}", answer, {"template": template, "params": params, "answer": answer}

    def _score(self, answer: str, item) -> float:
        from r1ci.tasks.symbench._common import bounded_answer

        s = bounded_answer(answer, 200)
        if s is None:
            return 0.0
        reference = item.meta["answer"]
        return float(exact_equal(s, reference) or decimal_close(s, reference))

    def solve(self, item) -> str:
        from r1ci.tasks.symbench._common import program

        solver = self.TEMPLATES[item.meta["template"]][1]
        return program(*self.SOLVER_HELPERS, solver,
                       call=f"params = {item.meta['params']!r}\nprint({solver.__name__}(params))")
