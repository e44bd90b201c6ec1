"""Number games: game24 and combinatorial_calculation (SymBench).

Both ask for an arithmetic expression over given integers; the verifier parses the expression itself
(a bounded `ast` walk over + - * / and integer literals, exact `Fraction` arithmetic, never `eval`), so any
correct expression scores 1.0, not only the one generated.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, bounded_answer, program_with_imports

_MAX_EXPR_CHARS = 400
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
        ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}


# ----------------------------------------------------------------------------------------------------------
# Verifier side: an exact, bounded evaluator for model-written expressions.
# ----------------------------------------------------------------------------------------------------------

def evaluate_expression(text: str) -> tuple[Fraction, list[int]]:
    """Value and the integer literals (left to right) of an expression over + - * / ( ) and integers.

    Raises ValueError for anything else (names, calls, powers, unary minus, floats, huge literals),
    and ZeroDivisionError for division by zero.
    """
    text = (text.replace("×", "*").replace("÷", "/").replace("\\times", "*").replace("\\div", "/")
            .replace("[", "(").replace("]", ")").replace("{", "(").replace("}", ")"))
    if len(text) > _MAX_EXPR_CHARS or not re.fullmatch(r"[\d\s+\-*/()]+", text) or "**" in text \
            or "//" in text or re.search(r"\d{7}", text):
        raise ValueError("not a plain arithmetic expression")
    tree = ast.parse(text.strip(), mode="eval")
    numbers: list[int] = []

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left = walk(node.left)
            right = walk(node.right)
            return _OPS[type(node.op)](left, right)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            numbers.append(node.value)
            return Fraction(node.value)
        raise ValueError(f"disallowed syntax: {type(node).__name__}")

    value = walk(tree.body)
    return value, numbers


def _value_or_none(text: str) -> tuple[Fraction, list[int]] | None:
    try:
        return evaluate_expression(text)
    except (ValueError, SyntaxError, ZeroDivisionError, RecursionError, MemoryError):
        return None


# ----------------------------------------------------------------------------------------------------------
# Solver side (self-contained functions, embedded in the oracle program with `program_with_imports`).
# ----------------------------------------------------------------------------------------------------------

def solve_make_target(numbers, target):
    """Search all ways to combine the numbers pairwise with + - * / (any order); an expression or None."""
    def search(items):
        if len(items) == 1:
            return items[0][1] if items[0][0] == target else None
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (a, ea), (b, eb) = items[i], items[j]
                rest = [items[k] for k in range(len(items)) if k != i and k != j]
                options = [(a + b, f"({ea} + {eb})"), (a * b, f"({ea} * {eb})"),
                           (a - b, f"({ea} - {eb})"), (b - a, f"({eb} - {ea})")]
                if b != 0:
                    options.append((a / b, f"({ea} / {eb})"))
                if a != 0:
                    options.append((b / a, f"({eb} / {ea})"))
                for value, expr in options:
                    found = search(rest + [(value, expr)])
                    if found:
                        return found
        return None

    expr = search([(Fraction(n), str(n)) for n in numbers])
    return None if expr is None else (expr[1:-1] if expr.startswith("(") else expr)


def ordered_solution(numbers, target):
    """Interval DP over the fixed order (every value each proper sub-range can take, with a back-pointer),
    then a targeted check of the top split: an expression reaching `target`, or None."""
    n = len(numbers)
    table = {(i, i + 1): {Fraction(x): None} for i, x in enumerate(numbers)}
    for length in range(2, n):
        for lo in range(0, n - length + 1):
            hi = lo + length
            cell = {}
            for mid in range(lo + 1, hi):
                right = table[(mid, hi)]
                for a in table[(lo, mid)]:
                    for b in right:
                        for value, op in ((a + b, "+"), (a - b, "-"), (a * b, "*")):
                            if value not in cell:
                                cell[value] = (op, mid, a, b)
                        if b != 0 and a / b not in cell:
                            cell[a / b] = ("/", mid, a, b)
            table[(lo, hi)] = cell

    def build(lo, hi, value):
        back = table[(lo, hi)][value]
        if back is None:
            return str(numbers[lo])
        op, mid, a, b = back
        return f"({build(lo, mid, a)} {op} {build(mid, hi, b)})"

    target = Fraction(target)
    for mid in range(1, n):
        left, right = table[(0, mid)], table[(mid, n)]
        for a in left:
            needs = [("+", target - a), ("-", a - target)]
            if a != 0:
                needs.append(("*", target / a))
            if target != 0 and a != 0:
                needs.append(("/", a / target))
            for op, b in needs:
                if b in right:
                    return f"({build(0, mid, a)} {op} {build(mid, n, b)})"
    return None


def random_ordered_expression(rng, numbers):
    """A random fully parenthesised expression over the numbers in order, with its exact value."""
    def grow(lo, hi):
        if hi - lo == 1:
            return Fraction(numbers[lo]), str(numbers[lo])
        mid = rng.randint(lo + 1, hi - 1)
        (a, ea), (b, eb) = grow(lo, mid), grow(mid, hi)
        op = rng.choice("+-*/" if b != 0 else "+-*")
        value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
        return value, f"({ea} {op} {eb})"

    return grow(0, len(numbers))


def expression_tokens(expr):
    """'(4 - (6 * 9))' -> '[4, -, (, 6, *, 9, )]' with the redundant outer parentheses dropped."""
    tokens = re.findall(r"\d+|[-+*/()]", expr)
    if tokens and tokens[0] == "(" and tokens[-1] == ")":
        depth = 0
        for k, t in enumerate(tokens):
            depth += (t == "(") - (t == ")")
            if depth == 0 and k < len(tokens) - 1:
                break
        else:
            tokens = tokens[1:-1]
    return "[" + ", ".join(tokens) + "]"


# ----------------------------------------------------------------------------------------------------------
# game24
# ----------------------------------------------------------------------------------------------------------

class Game24(ProceduralTask):
    """Combine all given numbers, each exactly once, with + - * / and parentheses to reach the target."""

    name = "game24"
    defaults = {"count": 4, "max_number": 13, "target": 24}
    harder = {"count": 5, "max_number": 25, "target": 24}

    def _make(self, rng, params):
        count, hi, target = params["count"], params["max_number"], params["target"]
        while True:
            numbers = sorted(rng.randint(1, hi) for _ in range(count))
            expr = solve_make_target(numbers, Fraction(target))
            if expr is not None:
                break
        shown = " ".join(map(str, numbers))
        question = (
            f"Use the numbers {shown} and the basic arithmetic operations (+ - * /) with parentheses to "
            f"obtain {target}. Each number must be used exactly once (all of them must be used); division "
            f"is exact (fractions are allowed in intermediate steps); no other operations, no concatenating "
            f"digits and no unary minus.\nExamples: Input: 9 10 11 13, Answer: ((10-9)*(11+13)) = 24. "
            f"Input: 4 10 10 11, Answer: ((4*11)-(10+10)) = 24.\n"
            f"Input: {shown}\nGive only the expression (optionally followed by '= {target}'), "
            f"for example <<<((10-9)*(11+13)) = 24>>>."
        )
        return question, f"{expr} = {target}", {"numbers": numbers, "target": target}

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, _MAX_EXPR_CHARS)
        if not s:
            return 0.0
        target = Fraction(item.meta["target"])
        parts = s.split("=")
        if len(parts) > 2:
            return 0.0
        if len(parts) == 2:
            rhs = _value_or_none(parts[1])
            if rhs is None or rhs[0] != target:
                return 0.0
        lhs = _value_or_none(parts[0])
        return float(lhs is not None and lhs[0] == target and sorted(lhs[1]) == sorted(item.meta["numbers"]))

    def solve(self, item: TaskItem) -> str:
        call = (f"expr = solve_make_target({item.meta['numbers']!r}, Fraction({item.meta['target']}))\n"
                f"print(f\"{{expr}} = {item.meta['target']}\")")
        return program_with_imports("from fractions import Fraction", solve_make_target, call=call)


# ----------------------------------------------------------------------------------------------------------
# combinatorial_calculation
# ----------------------------------------------------------------------------------------------------------

class CombinatorialCalculation(ProceduralTask):
    """Insert + - * / and parentheses between digits in their given order so the result is the target."""

    name = "combinatorial_calculation"
    defaults = {"count": 6, "target_min": 30, "target_max": 150}
    harder = {"count": 7, "target_min": 100, "target_max": 400}

    def _make(self, rng, params):
        count = params["count"]
        while True:
            numbers = [rng.randint(1, 9) for _ in range(count)]
            value, expr = random_ordered_expression(rng, numbers)
            if value.denominator == 1 and params["target_min"] <= value <= params["target_max"]:
                break
        target = int(value)
        answer = expression_tokens(expr)
        question = (
            f"Given {count} integers between 1 and 9, perform arithmetic operations (addition, subtraction, "
            f"multiplication, division, and parentheses) between these integers. Each number must be used "
            f"exactly once and only once, and the final result should be {target}. Division is exact "
            f"(fractions are allowed in intermediate steps).\n"
            f"Note: the order of the numbers is given by the input and you cannot change it, nor join digits "
            f"into larger numbers, nor use unary minus. You can only insert arithmetic operations and "
            f"parentheses between the numbers.\n"
            f"Return the answer as a list of values and calculation symbols, e.g. <<<[1, +, 3]>>> means 1+3 "
            f"and <<<[4, -, (, 6, *, 9, )]>>> means 4-(6*9).\n"
            f"The input numbers are: {', '.join(map(str, numbers))}; the target value is: {target}."
        )
        return question, answer, {"numbers": numbers, "target": target}

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, _MAX_EXPR_CHARS)
        if not s:
            return 0.0
        if s.startswith("[") and s.endswith("]"):
            tokens = [t.strip().strip("'\"` ") for t in s[1:-1].split(",")]
            if any(not re.fullmatch(r"\d+|[-+*/()]", t) for t in tokens):
                return 0.0
            s = " ".join(tokens)
        got = _value_or_none(s.split("=")[0])
        return float(got is not None and got[0] == item.meta["target"] and got[1] == item.meta["numbers"])

    def solve(self, item: TaskItem) -> str:
        call = f"print(expression_tokens(ordered_solution({item.meta['numbers']!r}, {item.meta['target']})))"
        return program_with_imports("import re\nfrom fractions import Fraction", ordered_solution,
                                    expression_tokens, call=call)


TASKS = [Game24, CombinatorialCalculation]

