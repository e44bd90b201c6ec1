"""Reference programs: for an item, a short Python program that prints its answer (the oracle teacher).

SymBench's procedural tasks write their own (`SolvableTask.solve`). A few tasks get a one-liner here,
read off the question, so that the smoke mix (and the tiny-scale learning check) has oracle SFT data for
every task: what a careful model would write, the expression or the operands copied from the question
into `print(...)`. Where both exist, the one-liner is preferred (shorter programs teach a small model
the copy-to-code skill faster).
"""

from __future__ import annotations

from collections.abc import Callable

from r1ci.tasks.base import SolvableTask, TaskItem
from r1ci.tasks.registry import get_task


def _first_line(item: TaskItem) -> str:
    return item.question.split("\n", 1)[0].strip()


def _basic_arithmetic(item: TaskItem) -> str:
    # RG's answers are integers, the floor of the value; the expression is copied as written.
    return f"import math\nprint(math.floor({item.meta['metadata']['expression']}))"


def _number_multiply(item: TaskItem) -> str:
    return "print(" + "*".join(f"({x})" if x < 0 else str(x) for x in item.meta["numbers"]) + ")"


def _chain_sum(item: TaskItem) -> str:
    return f"print({item.meta['metadata']['expression']})"


def _lcm(item: TaskItem) -> str:
    return f"import math\nprint(math.lcm({', '.join(map(str, item.meta['metadata']['numbers']))}))"


def _count_primes(item: TaskItem) -> str:
    m = item.meta["metadata"]
    return f"import sympy\nprint(len(list(sympy.primerange({m['start']}, {m['end']} + 1))))"


def _gcd(item: TaskItem) -> str:
    return f"import math\nprint(math.gcd({', '.join(map(str, item.meta['metadata']['numbers']))}))"


def _spell_backward(item: TaskItem) -> str:
    return f"print({_first_line(item).rsplit(': ', 1)[1]!r}[::-1])"


def _boolean_expressions(item: TaskItem) -> str:
    return f"print({_first_line(item).removesuffix(' is')})"


def _multistep_arithmetic_two(item: TaskItem) -> str:
    return f"print({_first_line(item).removesuffix(' =')})"


PROGRAMS: dict[str, Callable[[TaskItem], str]] = {
    "number_multiply": _number_multiply,
    "basic_arithmetic": _basic_arithmetic,
    "chain_sum": _chain_sum,
    "count_primes": _count_primes,
    "gcd": _gcd,
    "lcm": _lcm,
    "spell_backward": _spell_backward,
    "boolean_expressions": _boolean_expressions,
    "multistep_arithmetic_two": _multistep_arithmetic_two,
}


def reference_program(item: TaskItem) -> str | None:
    """A program printing `item`'s answer, or None when its task has none."""
    if item.task in PROGRAMS:
        return PROGRAMS[item.task](item)
    task = get_task(item.task)
    return task.solve(item) if isinstance(task, SolvableTask) else None
