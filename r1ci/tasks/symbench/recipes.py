"""Resource-cycling tasks: string_splitting, string_synthesis, synthesis_decomposition.

All three follow one pattern: a list of exchange methods (inputs -> outputs) is cycled in order until none
can run, and the answer is the final inventory. The hand simulation takes dozens of steps; code takes one
loop. One simulator, `cycle_methods`, serves all three.
"""

from __future__ import annotations

import random
from typing import Any

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, parse_int_list, program


# ----------------------------------------------------------------------------------------------- solver
def cycle_methods(state, methods, exhaust=False):
    """Run methods 1..n in order, again and again, until a whole cycle changes nothing.

    Each method is [inputs, outputs] (dicts name -> count). With exhaust=False a method runs at most once per
    visit; with exhaust=True it runs as many times as it can before moving to the next one.
    """
    state = dict(state)

    def can_run(inputs):
        return all(state.get(k, 0) >= v for k, v in inputs.items())

    changed = True
    while changed:
        changed = False
        for inputs, outputs in methods:
            while can_run(inputs):
                for k, v in inputs.items():
                    state[k] -= v
                for k, v in outputs.items():
                    state[k] = state.get(k, 0) + v
                changed = True
                if not exhaust:
                    break
    return state


def _plural(n: int, word: str) -> str:
    return f"{n} unit{'s' if n != 1 else ''} of {word}"


def _inventory(final: dict[str, int], order: list[str]) -> list[int]:
    return [final.get(k, 0) for k in order]


# ---------------------------------------------------------------------------------------- string_splitting
class StringSplitting(ProceduralTask):
    """Dismantle machines A, B, C into parts X, Y, Z by cycling five methods."""

    name = "string_splitting"
    defaults = {"min_count": 10, "max_count": 30}
    harder = {"min_count": 60, "max_count": 150}
    ORDER = ["A", "B", "C", "X", "Y", "Z"]

    def _make(self, rng: random.Random, p: dict[str, Any]):
        x1, y1, b2, c3 = rng.randint(1, 3), rng.randint(1, 2), rng.randint(2, 3), rng.randint(2, 3)
        methods = [[{"A": 1}, {"X": x1, "Y": y1}], [{"B": b2}, {"X": 1}], [{"C": c3}, {"Y": 1}],
                   [{"B": 1, "C": 1}, {"A": 1}], [{"X": 1, "Y": 1}, {"Z": 1}]]
        text = [f"Method 1: one machine A can be dismantled into {x1} part(s) X and {y1} part(s) Y.",
                f"Method 2: {b2} machines B can be dismantled into one part X.",
                f"Method 3: {c3} machines C can be dismantled into one part Y.",
                "Method 4: one machine B and one machine C can be combined into one machine A.",
                "Method 5: one part X and one part Y can be combined into one part Z."]
        start = {k: rng.randint(p["min_count"], p["max_count"]) for k in "ABC"}
        final = _inventory(cycle_methods(start, methods), self.ORDER)
        question = (
            "A dismantling engineer has old machines A, B and C. He can obtain new parts X, Y and Z with "
            "these methods:\n" + "\n".join(text) + "\n\n"
            "He cycles through the methods in the given order, executing each method at most once per visit: "
            "Method 1, then Method 2, ..., then Method 5, then again Method 1, and so on. A method whose "
            "inputs are not available is skipped. He continues until no method can be executed.\nInitially "
            f"there are {start['A']} machines A, {start['B']} machines B and {start['C']} machines C. How "
            "many machines A, B, C remain, and how many parts X, Y, Z does he have at the end?\nAnswer with "
            "the six counts in the order A, B, C, X, Y, Z, in the format <<<[\"1\", \"0\", \"1\", \"1\", "
            "\"1\", \"1\"]>>>.")
        meta = {"start": start, "methods": methods, "order": self.ORDER, "final": final, "exhaust": False}
        return question, str([str(v) for v in final]).replace("'", '"'), meta

    def _score(self, answer: str, item: TaskItem) -> float:
        return float(parse_int_list(answer, len(item.meta["final"]), max_digits=9) == item.meta["final"])

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"final = cycle_methods({m['start']!r}, {m['methods']!r}, exhaust={m['exhaust']})\n"
                f"print([str(final.get(k, 0)) for k in {m['order']!r}])")
        return program(cycle_methods, call=call)


# ---------------------------------------------------------------------------------------- string_synthesis
BLOCKS = ["[A]", "[B]", "[C]", "{A}", "{B}", "{C}", "(A)", "(B)", "(C)"]
SYNTHESIS_METHODS = [  # the six SymBench recipes, over the nine blocks
    ("One [A], one [B] and one [C] can be combined to form one {A}.", {"[A]": 1, "[B]": 1, "[C]": 1},
     {"{A}": 1}),
    ("One [A] and one [B] can be combined to form one {C}.", {"[A]": 1, "[B]": 1}, {"{C}": 1}),
    ("One [B] and one [C] can be combined to form one {B}.", {"[B]": 1, "[C]": 1}, {"{B}": 1}),
    ("Two [C] can be combined to form one {C}.", {"[C]": 2}, {"{C}": 1}),
    ("One {A} and one {C} can be combined to form one (A) and one (B).", {"{A}": 1, "{C}": 1},
     {"(A)": 1, "(B)": 1}),
    ("Two {B} can be combined to form one (C).", {"{B}": 2}, {"(C)": 1}),
]


class StringSynthesis(ProceduralTask):
    """Combine blocks [A], [B], [C] into higher blocks with six recipes applied in a (shuffled) cycle."""

    name = "string_synthesis"
    defaults = {"min_count": 5, "max_count": 20, "shuffle": True}
    harder = {"min_count": 30, "max_count": 120, "shuffle": True}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        recipes = list(SYNTHESIS_METHODS)
        if p["shuffle"]:
            rng.shuffle(recipes)
        methods = [[inp, out] for _, inp, out in recipes]
        start = {b: rng.randint(p["min_count"], p["max_count"]) for b in BLOCKS[:3]}
        final = _inventory(cycle_methods(start, methods, exhaust=True), BLOCKS)
        lines = "\n".join(f"{i}. {t}" for i, (t, _, _) in enumerate(recipes, 1))
        question = (
            "There are nine different blocks [A], [B], [C], {A}, {B}, {C}, (A), (B), (C) and these methods:\n"
            f"{lines}\n\nCycle through the methods in order: apply Method 1 as many times as possible, then "
            "Method 2 as many times as possible, and so on up to Method 6, then start again from Method 1. "
            f"Stop when a whole cycle changes nothing.\nQuestion: if we now have {start['[A]']} [A], "
            f"{start['[B]']} [B] and {start['[C]']} [C], how many blocks of each kind will there be at the "
            "end?\nReturn the nine counts in the order [A], [B], [C], {A}, {B}, {C}, (A), (B), (C), "
            "separated by spaces; for example <<<1 0 3 0 0 0 0 0 0>>>.")
        meta = {"start": start, "methods": methods, "order": BLOCKS, "final": final, "exhaust": True}
        return question, " ".join(map(str, final)), meta

    _score = StringSplitting._score

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"final = cycle_methods({m['start']!r}, {m['methods']!r}, exhaust=True)\nprint(' "
                f"'.join(str(final.get(k, 0)) for k in {m['order']!r}))")
        return program(cycle_methods, call=call)


# ---------------------------------------------------------------------------------- synthesis_decomposition
# Weights that every random method must strictly decrease, so the cycle always ends.
_WEIGHT = {"A": 6, "B": 6, "C": 4, "X": 2, "Y": 1}
# Per complexity level (1-5, as in CodeSteer's generator): the crops grown, what a method may consume and
# produce, and the inventory asked for. Levels 1-2 ask for [A, B, X], 3-4 for [A, B, C, X], 5 for all five.
_LEVELS = {
    1: {"crops": "AB", "inputs": "AB", "outputs": "X", "order": ["A", "B", "X"]},
    3: {"crops": "ABC", "inputs": "ABCX", "outputs": "CX", "order": ["A", "B", "C", "X"]},
    5: {"crops": "ABC", "inputs": "ABCX", "outputs": "CXY", "order": ["A", "B", "C", "X", "Y"]},
}


def _level(complexity: int) -> dict[str, Any]:
    """The setting of a complexity level: 1-2 share one, 3-4 another, 5 its own."""
    return _LEVELS[1 if complexity <= 2 else 3 if complexity <= 4 else 5]


def _random_method(rng: random.Random, level: dict[str, Any]) -> list[dict[str, int]]:
    """One exchange method over the level's resources that lowers the total weight (so cycling ends)."""
    while True:
        pool = list(level["inputs"])
        names = rng.sample(pool, min(len(pool), rng.choice([1, 2, 2, 3])))
        inputs = {k: rng.randint(1, 3) for k in sorted(names)}
        choices = [k for k in level["outputs"] if k not in inputs]
        if not choices:
            continue
        outputs = {rng.choice(choices): rng.randint(1, 3)}
        w_in = sum(_WEIGHT[k] * v for k, v in inputs.items())
        if w_in > sum(_WEIGHT[k] * v for k, v in outputs.items()):
            return [inputs, outputs]


def _name_list(names) -> str:
    """'AB' -> 'A and B', 'ABC' -> 'A, B and C' (any sequence of strings)."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class SynthesisDecomposition(ProceduralTask):
    """A farm exchanges crops for products with methods cycled once per visit.

    Each item draws a complexity level 1-5 (`complexity_weights`, CodeSteer's 10/20/30/40/100 split by
    default); the level sets which crops and products exist and so how many values the answer has (3, 4 or
    5), as in CodeSteer's synthesis_decomposition data.
    """

    name = "synthesis_decomposition"
    defaults = {"n_methods": 4, "min_count": 8, "max_count": 20, "min_steps": 8,
                "complexity_weights": [1, 2, 3, 4, 10]}
    harder = {"n_methods": 6, "min_count": 40, "max_count": 100, "min_steps": 30,
              "complexity_weights": [0, 0, 0, 0, 1]}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        complexity = rng.choices(range(1, 6), weights=list(p["complexity_weights"]))[0]
        level = _level(complexity)
        methods, start, final = self._instance(rng, p, level)
        final_list = _inventory(final, level["order"])
        question = self._question(methods, start, level)
        meta = {"start": start, "methods": methods, "order": level["order"], "final": final_list,
                "exhaust": False, "complexity": complexity}
        return question, str(final_list), meta

    @staticmethod
    def _instance(rng: random.Random, p: dict[str, Any], level: dict[str, Any]):
        """Methods and start counts whose cycle uses up at least `min_steps` crops and yields a product."""
        while True:
            methods: list[list[dict[str, int]]] = []
            while len(methods) < p["n_methods"]:  # distinct methods: a repeated line only pads the cycle
                method = _random_method(rng, level)
                if method not in methods:
                    methods.append(method)
            start = {k: rng.randint(p["min_count"], p["max_count"]) for k in level["crops"]}
            final = cycle_methods(start, methods)
            used = sum(start.values()) - sum(final.get(k, 0) for k in level["crops"])
            if used >= p["min_steps"] and final.get("X", 0) + final.get("Y", 0) > 0:
                return methods, start, final

    @staticmethod
    def _question(methods, start: dict[str, int], level: dict[str, Any]) -> str:
        def kind(k: str) -> str:
            return "crop" if k in "ABC" else "product"

        def amounts(d: dict[str, int]) -> str:
            return " and ".join(_plural(v, f"{kind(k)} {k}") for k, v in d.items())

        lines = "\n".join(f"Method {i}: {amounts(inp)} can be exchanged for {amounts(out)}."
                          for i, (inp, out) in enumerate(methods, 1))
        products = "".join(k for k in level["order"] if kind(k) == "product")
        slots = ", ".join(("remaining_" if kind(k) == "crop" else "obtained_") + k for k in level["order"])
        example = [1, 0, 2, 3, 1][:len(level["order"])]
        stock = _name_list([f"{start[k]} units of crop {k}" for k in level["crops"]])
        convert = " (and turn some into others)" if "C" in level["outputs"] else ""
        return (
            f"Xiao Li is a farm owner who grows crops {_name_list(level['crops'])}. He can exchange them for "
            f"agricultural product{'s' if len(products) > 1 else ''} {_name_list(products)}{convert} with "
            f"the following methods:\n\n{lines}\n\nXiao Li cycles through these methods in "
            "the given order, executing each method at most once per visit: after Method "
            f"{len(methods)} he starts again from Method 1. A method whose inputs are not available is "
            "skipped. He continues until no method can be executed.\nInitially there are "
            f"{stock}.\nGive the final amounts as a list [{slots}]; for example <<<{example}>>>.")

    _score = StringSplitting._score

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"final = cycle_methods({m['start']!r}, {m['methods']!r})\nprint([final.get(k, 0) for k in "
                f"{m['order']!r}])")
        return program(cycle_methods, call=call)


TASKS = [StringSplitting, StringSynthesis, SynthesisDecomposition]
