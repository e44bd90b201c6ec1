"""permutations_and_combinations: shelve labelled books so that every positional constraint holds.

Generated puzzles have between 1 and `max_solutions` valid orders; the verifier checks the constraints, so
any valid order scores 1.0. Hand search over 7-9 books is long; backtracking is instant.
"""

from __future__ import annotations

import random
from typing import Any

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, answer_tokens, program

# Weighted: ordering and adjacency constraints cut the search most, so they come up more often.
CONSTRAINT_KINDS = ["fixed", "not_in", "left_of", "left_of", "right_of", "adjacent", "adjacent",
                    "not_adjacent"]


# ----------------------------------------------------------------------------------------------- solver
def arrangement_ok(order, constraints):
    """True when the order (a list of labels, position 1 first) satisfies every constraint."""
    pos = {label: i + 1 for i, label in enumerate(order)}
    for kind, x, y in constraints:
        if kind == "fixed" and pos[x] != y:
            return False
        if kind == "not_in" and pos[x] == y:
            return False
        if kind == "left_of" and not pos[x] < pos[y]:
            return False
        if kind == "right_of" and not pos[x] > pos[y]:
            return False
        if kind == "adjacent" and abs(pos[x] - pos[y]) != 1:
            return False
        if kind == "not_adjacent" and abs(pos[x] - pos[y]) == 1:
            return False
    return True


def find_arrangements(items, constraints, limit):
    """Up to `limit` valid orders, by backtracking position by position.

    A partial order is dropped as soon as it cannot be completed: a constraint fails once the books it names
    are placed, a book must not come before one required to be on its left, a fixed position may only take
    its book, and a book whose required neighbour is missing needs the next position kept free.
    """
    n, found, order, pos = len(items), [], [], {}
    fixed_at = {y: x for kind, x, y in constraints if kind == "fixed"}

    def consistent(label):
        p = pos[label]
        if fixed_at.get(p, label) != label:
            return False
        for kind, x, y in constraints:
            if kind in ("fixed", "not_in"):
                if x == label and (p != y if kind == "fixed" else p == y):
                    return False
            elif kind == "left_of" and label == y and x not in pos:
                return False
            elif kind == "right_of" and label == x and y not in pos:
                return False
            elif kind == "adjacent" and label not in (x, y) and p >= 2:
                if (pos.get(x) == p - 1 and y not in pos) or (pos.get(y) == p - 1 and x not in pos):
                    return False
            elif label in (x, y) and x in pos and y in pos:
                d = pos[x] - pos[y]
                if (kind == "left_of" and d >= 0) or (kind == "right_of" and d <= 0) \
                        or (kind == "adjacent" and abs(d) != 1) or (kind == "not_adjacent" and abs(d) == 1):
                    return False
        return True

    def extend():
        if len(order) == n:
            found.append(list(order))
            return len(found) >= limit
        for label in items:
            if label in pos:
                continue
            pos[label] = len(order) + 1
            order.append(label)
            if consistent(label) and extend():
                return True
            order.pop()
            del pos[label]
        return False

    extend()
    return found


def _key(c: list) -> tuple:
    """One key for constraints that say the same thing (A next to B = B next to A, A left of B = B right
    of A)."""
    kind, x, y = c
    if kind in ("adjacent", "not_adjacent"):
        return (kind, *sorted((x, y)))
    return ("left_of", y, x) if kind == "right_of" else (kind, x, y)


class PermutationsAndCombinations(ProceduralTask):
    """Arrange books A, B, C, ... on a shelf under positional constraints."""

    name = "permutations_and_combinations"
    defaults = {"n_items": 7, "max_solutions": 3, "max_constraints": 14}
    harder = {"n_items": 9, "max_solutions": 2, "max_constraints": 18}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        n = p["n_items"]
        items = [chr(ord("A") + i) for i in range(n)]
        while True:
            hidden = rng.sample(items, n)
            constraints = self._constraints(rng, items, hidden, p)
            if constraints:
                sols = find_arrangements(items, constraints, p["max_solutions"] + 1)
                break
        lines = "\n".join(f"{i}. {self._describe(c)}" for i, c in enumerate(constraints, 1))
        question = (
            f"Xiao Wang is a librarian responsible for shelving {n} books labeled {', '.join(items)} on a "
            f"shelf with positions 1 to {n} (position 1 is the leftmost).\n\nThe constraints "
            f"are:\n{lines}\n\nArrange the {n} books from left to right, i.e. positions 1 through {n}, so "
            "that every constraint holds. One valid arrangement is enough. Return it as a list of strings, "
            "for example <<<[\"A\", \"B\", \"C\"]>>>.")
        answer = "[" + ", ".join(f'"{x}"' for x in sols[0]) + "]"
        return question, answer, {"items": items, "constraints": constraints, "n_solutions": len(sols)}

    @staticmethod
    def _constraints(rng: random.Random, items, hidden, p) -> list[list]:
        """Random constraints true of `hidden`, added until at most `max_solutions` orders remain.

        Once the solution count is checked, a new constraint must rule out at least one of the other orders
        found, so every addition makes progress. Returns [] when the cap is reached first (caller retries).
        """
        pos = {x: i + 1 for i, x in enumerate(hidden)}
        constraints: list[list] = []
        others: list[list[str]] = []  # valid orders other than `hidden` found by the last count
        for _ in range(5000):
            kind = rng.choice(CONSTRAINT_KINDS)
            x, y = rng.sample(items, 2)
            if kind == "fixed":
                c = [kind, x, pos[x]]
            elif kind == "not_in":
                c = [kind, x, rng.choice([q for q in range(1, len(items) + 1) if q != pos[x]])]
            else:
                c = [kind, x, y]
            second_fixed = kind == "fixed" and any(d[0] == "fixed" for d in constraints)
            duplicate = _key(c) in {_key(d) for d in constraints}
            no_progress = bool(others) and all(arrangement_ok(o, [c]) for o in others)
            if second_fixed or duplicate or no_progress or not arrangement_ok(hidden, [c]):
                continue
            constraints.append(c)
            if len(constraints) >= 5:
                sols = find_arrangements(items, constraints, p["max_solutions"] + 1)
                if len(sols) <= p["max_solutions"]:
                    return constraints
                others = [o for o in sols if o != hidden]
            if len(constraints) >= p["max_constraints"]:
                break
        return []

    @staticmethod
    def _describe(c: list) -> str:
        kind, x, y = c
        return {
            "fixed": f"Book {x} must be placed in position {y}.",
            "not_in": f"Book {x} cannot be placed in position {y}.",
            "left_of": f"Book {x} must be somewhere to the left of book {y}.",
            "right_of": f"Book {x} must be somewhere to the right of book {y}.",
            "adjacent": f"Book {x} must be adjacent to book {y}.",
            "not_adjacent": f"Book {x} must not be adjacent to book {y}.",
        }[kind]

    def _score(self, answer: str, item: TaskItem) -> float:
        items = item.meta["items"]
        toks = answer_tokens(answer, limit=12 * len(items) + 100)
        if toks is None or sorted(toks) != sorted(items):
            return 0.0
        return float(arrangement_ok(toks, item.meta["constraints"]))

    def solve(self, item: TaskItem) -> str:
        call = (f"items = {item.meta['items']!r}\nconstraints = {item.meta['constraints']!r}\norder = "
                "find_arrangements(items, constraints, 1)[0]\nprint('[' + ', '.join(f'\"{x}\"' for x in "
                "order) + ']')")
        return program(find_arrangements, call=call)


TASKS = [PermutationsAndCombinations]
