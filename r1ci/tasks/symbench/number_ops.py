"""Exact arithmetic tasks: new_operator (custom binary operators) and number_multiply (long products).

Both have one exact answer that a calculator gets right and long hand-arithmetic usually gets wrong.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, bounded_answer, parse_int, parse_rational, program

OP_SYMBOLS = "#@$&~?"
# Formula templates over a, b; {k} and {m} are small positive coefficients.
FORMULAS = [
    "{k}*a + {m}*b", "{k}*a*b", "(a + b)/b", "a*a - {k}*b", "{k}*(a - b)", "a*b + {k}",
    "{k}*a - b", "a + b*b", "(a - b)/{k}", "(a*b)/(a + b)", "a - {k}*b + {m}", "(a + {k})*(b - {m})",
]
MAX_ANSWER_DIGITS = 15


# ----------------------------------------------------------------------------------------------- solvers
def evaluate_custom(expression, definitions):
    """Evaluate an expression over integers, parentheses and custom binary operators, exactly (Fractions).

    Operators chain left to right; parentheses first. Each definition maps a symbol to a formula in a, b.
    """
    from fractions import Fraction

    tokens, i = [], 0
    while i < len(expression):
        ch = expression[i]
        if ch.isdigit():
            j = i
            while j < len(expression) and expression[j].isdigit():
                j += 1
            tokens.append(int(expression[i:j]))
            i = j
        else:
            if not ch.isspace():
                tokens.append(ch)
            i += 1

    def apply(op, a, b):
        return Fraction(eval(definitions[op], {"__builtins__": {}}, {"a": a, "b": b}))

    def parse(pos):
        value, pos = atom(pos)
        while pos < len(tokens) and tokens[pos] in definitions:
            op = tokens[pos]
            right, pos = atom(pos + 1)
            value = apply(op, value, right)
        return value, pos

    def atom(pos):
        if tokens[pos] == "(":
            value, pos = parse(pos + 1)
            return value, pos + 1  # skip ")"
        return Fraction(tokens[pos]), pos + 1

    return parse(0)[0]


def multiply_all(numbers):
    """The exact product of Python ints."""
    product = 1
    for x in numbers:
        product *= x
    return product


# -------------------------------------------------------------------------------------------- new_operator
class NewOperator(ProceduralTask):
    """Evaluate a nested expression built from newly defined binary operators."""

    name = "new_operator"
    defaults = {"n_defs": 3, "n_ops": 4}
    harder = {"n_defs": 4, "n_ops": 7}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        while True:
            symbols = rng.sample(OP_SYMBOLS, p["n_defs"])
            defs = {s: rng.choice(FORMULAS).format(k=rng.randint(2, 5), m=rng.randint(1, 5)) for s in symbols}
            expr = self._random_expr(rng, symbols, p["n_ops"], top=True)
            try:
                value = evaluate_custom(expr, defs)
            except ZeroDivisionError:
                continue
            if max(abs(value.numerator), value.denominator) < 10 ** MAX_ANSWER_DIGITS:
                break
        lines = "\n".join(f"Define a{s}b = {f}." for s, f in defs.items())
        question = (
            f"Let a and b be numbers. New binary operations are defined as follows:\n{lines}\n\nCalculate "
            f"{expr}.\nEvaluate parentheses first; * and / are ordinary multiplication and division. Give "
            "the exact value as an integer or a fraction in lowest terms (for example <<<-7/2>>>); a "
            "terminating decimal equal to the exact value is also accepted. Answer format: <<<number>>>.")
        return question, str(value), {"definitions": defs, "expression": expr, "value": str(value)}

    def _random_expr(self, rng: random.Random, symbols, n_ops: int, top: bool = False) -> str:
        if n_ops == 0:
            return str(rng.randint(1, 9))
        left = rng.randint(0, n_ops - 1)
        text = (f"{self._random_expr(rng, symbols, left)}{rng.choice(symbols)}"
                f"{self._random_expr(rng, symbols, n_ops - 1 - left)}")
        return text if top else f"({text})"

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, 100)
        got = parse_rational(s) if s is not None else None
        return float(got is not None and got == Fraction(item.meta["value"]))

    def solve(self, item: TaskItem) -> str:
        call = (f"definitions = {item.meta['definitions']!r}\nexpression = {item.meta['expression']!r}\n"
                "print(evaluate_custom(expression, definitions))")
        return program(evaluate_custom, call=call)


# ----------------------------------------------------------------------------------------- number_multiply
class NumberMultiply(ProceduralTask):
    """Multiply several signed multi-digit integers exactly."""

    name = "number_multiply"
    defaults = {"n_numbers": 3, "min_digits": 4, "max_digits": 7}
    harder = {"n_numbers": 5, "min_digits": 8, "max_digits": 12}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        nums = []
        for _ in range(p["n_numbers"]):
            d = rng.randint(p["min_digits"], p["max_digits"])
            nums.append(rng.randint(10 ** (d - 1), 10 ** d - 1) * rng.choice([-1, 1]))
        expr = "*".join(f"({x})" if x < 0 else str(x) for x in nums)
        question = (f"What is the result of {expr}?\nGive the exact integer, without separators, in the "
                    "format <<<number>>>.")
        value = multiply_all(nums)
        return question, str(value), {"numbers": nums, "value": str(value)}

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, 400)
        got = parse_int(s.replace(",", "").replace(" ", ""), 300) if s is not None else None
        return float(got is not None and got == int(item.meta["value"]))

    def solve(self, item: TaskItem) -> str:
        return program(multiply_all, call=f"print(multiply_all({item.meta['numbers']!r}))")


TASKS = [NewOperator, NumberMultiply]
