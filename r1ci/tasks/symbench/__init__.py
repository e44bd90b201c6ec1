"""SymBench: 33 procedural reasoning/planning tasks (paper.md), one module per task family.

Each module in this package exposes `TASKS`: a list of TaskBase subclasses with `source = "symbench"`.
Importing this package registers all of them.
"""

from __future__ import annotations

import importlib
import pkgutil

from r1ci.tasks.registry import register

# The 33 task names, as in the paper (lower-cased; MATH split into two procedural tasks).
SYMBENCH_TASKS = (
    "2048", "blocksworld", "boxlift", "boxnet", "combinatorial_calculation",
    "constrained_linear_arrangement", "cryptanalysis", "eight_queens", "game24", "gridworld",
    "letter_logic_diagram", "letters", "light_puzzles", "logic_puzzle", "logical_equation",
    "mahjong_pattern", "math_counting_probability", "math_geometry", "matrix_transformation",
    "new_operator", "number_multiply", "path_plan", "pattern_recognition",
    "permutations_and_combinations", "pooling", "reversi", "standard_sudoku", "statistical_counting",
    "string_deletion_and_modification", "string_insertion", "string_splitting", "string_synthesis",
    "synthesis_decomposition",
)


def _register_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for cls in getattr(module, "TASKS", ()):
            register(cls.name, "symbench", cls)


_register_all()
