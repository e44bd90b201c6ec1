"""Reasoning-Gym: 84 procedural generators of the `reasoning-gym` package (0.1.25), scored by its own checker.

The paper takes 84 of Reasoning-Gym's generators without listing them, so r1ci chooses its own
(docs/tasks_rg_bbh.md has the full table). Of the package's 106 generators, 22 are left out (`EXCLUDED`):

- `composite` needs a config to build;
- 5 share a registry name with another source: `boxnet`, `string_insertion`, `string_splitting`,
  `string_synthesis` (SymBench) and `word_sorting` (BIG-Bench-Hard);
- 10 are the same task as a SymBench task under another name, which would put one task on both sides of
  the by-task split: `string_manipulation` (string_deletion_and_modification) and `mahjong_puzzle`
  (mahjong_pattern), both ported from CodeSteer/SymBench per their source headers, `puzzle24` (game24),
  `n_queens` (eight_queens), `sudoku` and `mini_sudoku` (standard_sudoku), `pool_matrix` (pooling),
  `rotate_matrix` (matrix_transformation), `letter_counting` (letters), `products` (number_multiply);
- `game_of_life_halting`: its `score_answer` gives 1.0 to any non-empty answer (`bool("False")` is True);
- `knight_swap`: ~0.5 s per item to generate (200+ items per task);
- `arc_agi`, `codeio`: questions up to ~12k characters, beyond a 2k-token prompt budget;
- `figlet_font`, `emoji_mystery`: perception (ASCII-art letters, invisible variation selectors), not
  reasoning that code helps with.

Kept although related in content: `manipulate_matrix` (a chain of matrix operations, SymBench's
matrix_transformation is one rotation), `countdown` (SymBench combinatorial_calculation / game24 family),
`basic_arithmetic`/`chain_sum` (BBH multistep_arithmetic_two), `calendar_arithmetic`/`time_intervals`
(BBH date_understanding), `zebra_puzzles` (BBH logical_deduction_*), `knights_knaves`/`self_reference`
(BBH web_of_lies), `leg_counting` (BBH object_counting), `syllogism`/`propositional_logic`
(BBH formal_fallacies): different generators, formats and difficulty.

Scoring: RG's `score_answer` gives partial credit (often 0.01 for any parseable wrong answer); the
paper's reward is binary, so an answer counts as correct only at full credit (`FULL_CREDIT`).
`rg_score` returns the raw value. Five generators give `answer=None` (checked by verifying a plan):
graph_color, propositional_logic, rubiks_cube and rush_hour are kept; `example_solution` builds a valid
answer for them (from RG's metadata, or a breadth-first search for rush_hour).

Safety: scoring runs in the trainer, not the sandbox, on model-written text. Some RG checkers `eval`
the answer (binary_matrix, spiral_matrix) or pass it to sympy's `parse_expr` (which also evals), and two
loop or allocate by numbers written in the answer (rush_hour, rubiks_cube). `_GATES` screens answers for
those tasks first (rejecting code, clamping counts) without changing which correct answers pass.

Items: RG builds item i of seed s from `Random(s + i)` for most generators, so seeds s and s+1 share items;
r1ci's data preparation derives well-separated per-task seeds and drops repeated questions. Four generators
(`HASH_ORDER_DEPENDENT`) also draw from the iteration order of sets of strings, which Python randomises
per process (PYTHONHASHSEED): drawn in-process, every run, and every rank, would get other items. They are
drawn in a child process with a fixed hash seed instead.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from r1ci.tasks.base import ANSWER_INSTRUCTION, TaskBase, TaskItem
from r1ci.tasks.registry import register

RG_TASKS: tuple[str, ...] = (
    # arithmetic and algebra
    "basic_arithmetic", "bitwise_arithmetic", "calendar_arithmetic", "chain_sum", "complex_arithmetic",
    "count_bits", "count_primes", "decimal_arithmetic", "decimal_chain_sum", "dice",
    "fraction_simplification", "gcd", "gsm_symbolic", "intermediate_integration", "lcm", "leg_counting",
    "number_format",
    "polynomial_equations", "polynomial_multiplication", "power_function", "prime_factorization",
    "simple_equations", "simple_integration", "time_intervals", "coin_flip", "base_conversion",
    # algorithmic: strings, lists, matrices
    "ab", "binary_alternation", "binary_matrix", "caesar_cipher", "cryptarithm", "game_of_life",
    "graph_color", "group_anagrams", "isomorphic_strings", "jugs", "letter_jumble", "manipulate_matrix",
    "number_filtering", "number_sorting", "palindrome_generation", "palindrome_partitioning", "ransom_note",
    "sentence_reordering", "spell_backward", "spiral_matrix", "word_ladder", "word_sequence_reversal",
    # graphs and geometry
    "course_schedule", "family_relationships", "largest_island", "path_star", "quantum_lock",
    "shortest_path", "advanced_geometry", "simple_geometry",
    # games and puzzles
    "countdown", "futoshiki", "kakurasu", "maze", "rush_hour", "sokoban", "survo", "tower_of_hanoi",
    "tsumego",
    # logic
    "aiw", "circuit_logic", "knights_knaves", "propositional_logic", "self_reference", "syllogism",
    "zebra_puzzles",
    # cognition and induction
    "acre", "arc_1d", "bf", "color_cube_rotation", "list_functions", "modulo_grid", "needle_haystack",
    "number_sequence", "rearc", "rectangle_count", "rotten_oranges", "rubiks_cube",
)

EXCLUDED: dict[str, str] = {
    "composite": "needs a config (a mixture of other generators)",
    "boxnet": "name taken by SymBench BoxNet",
    "string_insertion": "name taken by SymBench (RG ports it from CodeSteer/SymBench)",
    "string_splitting": "name taken by SymBench (RG ports it from CodeSteer/SymBench)",
    "string_synthesis": "name taken by SymBench (RG ports it from CodeSteer/SymBench)",
    "word_sorting": "name taken by BIG-Bench-Hard word_sorting",
    "string_manipulation": "same task as SymBench string_deletion_and_modification (ported from CodeSteer)",
    "mahjong_puzzle": "same task as SymBench mahjong_pattern (ported from CodeSteer)",
    "puzzle24": "same task as SymBench game24",
    "n_queens": "same task as SymBench eight_queens",
    "sudoku": "same task as SymBench standard_sudoku",
    "mini_sudoku": "same task as SymBench standard_sudoku (4x4)",
    "pool_matrix": "same task as SymBench pooling",
    "rotate_matrix": "same task as SymBench matrix_transformation",
    "letter_counting": "same task as SymBench letters",
    "products": "same task as SymBench number_multiply",
    "game_of_life_halting": "RG's score_answer gives 1.0 to any non-empty answer",
    "knight_swap": "too slow to generate (~0.5 s per item)",
    "arc_agi": "questions up to ~12k characters (beyond a 2k-token prompt)",
    "codeio": "questions up to ~11k characters (beyond a 2k-token prompt)",
    "figlet_font": "reading ASCII-art letters: perception, not reasoning code helps with",
    "emoji_mystery": "text hidden in invisible Unicode variation selectors: tokenizer-dependent perception",
}

# RG gives 1.0 for a correct answer and partial credit otherwise; the paper's reward is correct / not.
FULL_CREDIT = 1.0 - 1e-9
# Longer answers score 0 without reaching RG. The longest reference seen is ~9.4k characters (all
# palindrome partitions of a string; 500 items); the limit leaves room for ~10x that.
MAX_ANSWER_CHARS = 100_000


class ReasoningGymTask(TaskBase):
    """One RG generator: questions from `create_dataset`, scores from the package's `score_answer`."""

    source = "reasoning_gym"

    def __init__(self, name: str) -> None:
        self.name = name

    def _generate(self, n: int, seed: int) -> list[TaskItem]:
        if n <= 0:
            return []
        if self.name in HASH_ORDER_DEPENDENT and sys.flags.hash_randomization:
            return _generate_with_fixed_hash_seed(self.name, n, seed)
        import reasoning_gym  # slow import (~2 s): only when items are needed

        # Some generators print progress dots to stdout; keep the caller's stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            dataset = reasoning_gym.create_dataset(self.name, size=n, seed=seed)
            entries = [dataset[i] for i in range(n)]
        return [self._item(entry, seed, i) for i, entry in enumerate(entries)]

    def _item(self, entry: dict[str, Any], seed: int, index: int) -> TaskItem:
        answer = entry["answer"]
        return TaskItem(
            id=f"{self.name}-{seed}-{index}",
            task=self.name,
            question=entry["question"] + ANSWER_INSTRUCTION,
            answer=None if answer is None else str(answer),
            meta={"rg_seed": seed, "rg_index": index, "metadata": to_json(entry["metadata"])},
        )

    def _score(self, answer: str, item: TaskItem) -> float:
        return 1.0 if rg_score(answer, item) >= FULL_CREDIT else 0.0


# reasoning-gym 0.1.25 generators that pick from `list(a_set_of_strings)` (letters, monomials, word graphs):
# their items depend on the process's hash seed. tests/tasks/test_reasoning_gym.py finds every such task.
HASH_ORDER_DEPENDENT = frozenset({"isomorphic_strings", "polynomial_multiplication", "ransom_note", "word_ladder"})
_CHILD = ("import json, sys; from r1ci.tasks.reasoning_gym import ReasoningGymTask; "
          "name, n, seed = json.loads(sys.argv[1]); "
          "sys.stdout.write(json.dumps([it.to_dict() for it in ReasoningGymTask(name)._generate(n, seed)]))")


def _generate_with_fixed_hash_seed(name: str, n: int, seed: int) -> list[TaskItem]:
    """`ReasoningGymTask(name)._generate(n, seed)` in a child with PYTHONHASHSEED=0: the same items in
    every process (a second or so per call, for four tasks)."""
    package_root = str(Path(__file__).resolve().parents[2])  # this r1ci, not another installed copy
    env = {**os.environ, "PYTHONHASHSEED": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([name, n, seed])], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"generating {name} items in a child process failed: {done.stderr[-2000:]}")
    return [TaskItem.from_dict(d) for d in json.loads(done.stdout)]


def to_json(value: Any) -> Any:
    """`value` as plain JSON types (tuples -> lists, int keys -> str), exactly what a JSON round trip gives.

    Scoring always sees this form, so an item scores the same before and after it is written to disk.
    """
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return repr(value)


def rg_entry(item: TaskItem) -> dict[str, Any]:
    """Rebuild the RG entry (`question`, `answer`, `metadata`) that `score_answer` expects."""
    question = item.question.removesuffix(ANSWER_INSTRUCTION)
    metadata = item.meta["metadata"]
    if item.task == "rearc":  # RG compares the parsed answer with a tuple of tuples; JSON gives lists
        metadata = {**metadata, "output": tuple(tuple(row) for row in metadata["output"])}
    return {"question": question, "answer": item.answer, "metadata": metadata}


@cache
def _scorer(name: str) -> Any:
    """A dataset instance for `score_answer` (default config, as at generation; its seed is irrelevant)."""
    import reasoning_gym

    with contextlib.redirect_stdout(io.StringIO()):
        return reasoning_gym.create_dataset(name, size=1, seed=0)


def rg_score(answer: str | None, item: TaskItem) -> float:
    """RG's own score in [0, 1] (partial credit included) after the safety gate; 0.0 for a rejected answer."""
    if answer is None or len(answer) > MAX_ANSWER_CHARS:
        return 0.0
    gate = _GATES.get(item.task)
    if gate is not None:
        answer = gate(answer)
        if answer is None:
            return 0.0
    entry = rg_entry(item)
    if item.task in _INTEGRATION_TASKS and _derivative_mismatch(answer, entry["metadata"]):
        return 0.0
    return float(_scorer(item.task).score_answer(answer, entry))


# ----------------------------------------------------------------------------------------------------------
# Safety gates: answer -> answer to score, or None to reject. None of them rejects a correct answer.

_LITERAL_CHARS = re.compile(r"[\d\s\[\](),.+\-]*")


def _literal_gate(answer: str) -> str | None:
    """binary_matrix, spiral_matrix `eval` the answer: let through only digits, brackets, commas, signs."""
    return answer if _LITERAL_CHARS.fullmatch(answer) else None


_ARITHMETIC = re.compile(r"[\d\s+\-*/().]*")


def _arithmetic_gate(answer: str) -> str | None:
    """countdown asks for numbers with + - * / only; its checker evals via sympy (`exp(exp(exp(99)))`
    never finishes), so nothing else gets through, nor a power."""
    return answer if _ARITHMETIC.fullmatch(answer) and "**" not in answer else None


# `1e999999999` makes Fraction and sympy build a billion-digit integer.
_HUGE_EXPONENT = re.compile(r"\d\s*[eE]\s*[+-]?\s*\d{4,}")
_NOT_FINITE = re.compile(r"nan|inf", re.IGNORECASE)


def _finite_number_gate(answer: str) -> str | None:
    """coin_flip parses with Fraction (see _HUGE_EXPONENT); complex_arithmetic scores `nan` as 1.0
    (`min(1.0, exp(-nan))` is 1.0)."""
    return None if _HUGE_EXPONENT.search(answer) or _NOT_FINITE.search(answer) else answer


# Names sympy may see in an answer: functions that appear in integrals and their answers, constants, and
# one-letter variables (the integration constant C included). Only the functions may be called.
_SYMPY_FUNCS = frozenset({
    "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "acot", "sinh", "cosh", "tanh",
    "asinh", "acosh", "atanh", "exp", "log", "ln", "sqrt", "Abs", "abs", "Integral",
})
_SYMPY_NAMES = _SYMPY_FUNCS | {"pi", "E", "I", "oo"}
_SYMPY_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call, ast.Load,
                ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
_MAX_EXPONENT = 100


def _sympy_gate(answer: str) -> str | None:
    """Polynomials and integrals go through sympy's `parse_expr` (an eval): allow arithmetic only.

    The answer must parse as a Python expression of numbers, allowed names and calls to allowed functions,
    with exponents that stay small (`9**9**9` or `x**10**9` would never finish).
    """
    if _HUGE_EXPONENT.search(answer):
        return None
    try:
        tree = ast.parse(answer.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    nodes = list(ast.walk(tree))
    if not all(_allowed_node(node) for node in nodes):
        return None
    powers = [n for n in nodes if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow)]
    return answer if all(_small_power(node) for node in powers) else None


def _allowed_node(node: ast.AST) -> bool:
    if not isinstance(node, _SYMPY_NODES):
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.Name):
        return len(node.id) == 1 or node.id in _SYMPY_NAMES
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _SYMPY_FUNCS and not node.keywords
    return True


def _small_power(node: ast.BinOp) -> bool:
    """No power inside an exponent, no constant above _MAX_EXPONENT in it, no power of a numeric power."""
    exponent = list(ast.walk(node.right))
    if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in exponent):
        return False
    if any(isinstance(n, ast.Constant) and abs(n.value) > _MAX_EXPONENT for n in exponent):
        return False
    base = list(ast.walk(node.left))
    numeric_base = not any(isinstance(n, ast.Name) for n in base)
    return not (numeric_base and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in base))


_INTEGRATION_TASKS = frozenset({"simple_integration", "intermediate_integration"})
_PROBES = (0.31, 0.77, 1.23)


def _derivative_mismatch(answer: str, metadata: dict[str, Any]) -> bool:
    """True when d(answer)/dx differs from the integrand at a sample point: surely wrong.

    RG checks `simplify(derivative - integrand) == 0`, which can take ~20 s for a wrong answer; a numeric
    check settles those in milliseconds. Anything undecided (errors, non-finite values) goes on to RG.
    """
    import sympy

    try:
        x = sympy.Symbol(metadata["variable"])
        names = {metadata["variable"]: x, "C": sympy.Symbol("C")}
        derivative = sympy.diff(sympy.parse_expr(answer, local_dict=names), x)
        integrand = sympy.parse_expr(metadata["integrand"], local_dict={metadata["variable"]: x})
        for point in _PROBES:
            got = complex(derivative.evalf(subs={x: point}))
            want = complex(integrand.evalf(subs={x: point}))
            if all(map(math.isfinite, (got.real, got.imag, want.real, want.imag))) and \
                    abs(got - want) > 1e-6 * (1 + abs(want)):
                return True
    except Exception:  # noqa: BLE001 - undecided: RG's own check decides
        return False
    return False


_RUSH_MOVE = re.compile(r"([A-Z])([+-])(\d+)")


def _rush_hour_gate(answer: str) -> str | None:
    """RG steps a car once per unit of `A+n`, even when blocked: clamp n to the board size (same result)."""
    return _RUSH_MOVE.sub(lambda m: f"{m[1]}{m[2]}{min(int(m[3]), 6)}", answer)


_CUBE_REPEAT = re.compile(r"(?<=\D)(\d+)(?=\s|$)")


def _rubiks_gate(answer: str) -> str | None:
    """RG expands `U3` to `U U U` (`U999999999` would fill memory); every cube move has order 4."""
    return _CUBE_REPEAT.sub(lambda m: str(int(m[1][-2:]) % 4), answer)  # 100 = 0 (mod 4)


_GATES: dict[str, Callable[[str], str | None]] = {
    "binary_matrix": _literal_gate,
    "coin_flip": _finite_number_gate,
    "complex_arithmetic": _finite_number_gate,
    "spiral_matrix": _literal_gate,
    "countdown": _arithmetic_gate,
    "polynomial_multiplication": _sympy_gate,
    "simple_integration": _sympy_gate,
    "intermediate_integration": _sympy_gate,
    "rush_hour": _rush_hour_gate,
    "rubiks_cube": _rubiks_gate,
}


# ----------------------------------------------------------------------------------------------------------
# Valid answers for the plan-checked tasks (answer=None), e.g. for oracle trajectories and tests.

def example_solution(item: TaskItem) -> str | None:
    """A valid answer: the reference, else one built from RG's metadata or a search; None if none known."""
    if item.answer is not None:
        return item.answer
    meta = item.meta["metadata"]
    if item.task == "graph_color":
        return json.dumps(meta["possible_answer"])
    if item.task == "propositional_logic":
        return meta["example_answer"]
    if item.task == "rubiks_cube":
        return meta["example_correct_answer"]
    if item.task == "rush_hour":
        return solve_rush_hour(meta["board_config"])
    return None


def solve_rush_hour(board_config: str) -> str | None:
    """Shortest unit-step plan (`A+1 C-1 ...`) that frees car A, by breadth-first search; None if stuck.

    Pieces are lettered as RG's Board letters them: labels in the config, sorted, become A, B, C, ...
    """
    size = 6
    cells: dict[str, list[int]] = {}
    walls = set()
    for i, label in enumerate(board_config):
        if label == "x":
            walls.add(i)
        elif label != "o":
            cells.setdefault(label, []).append(i)
    labels = sorted(cells)
    strides = [cells[lab][1] - cells[lab][0] for lab in labels]
    lengths = [len(cells[lab]) for lab in labels]
    start = tuple(cells[lab][0] for lab in labels)
    target = 2 * size + size - 2  # car A's leftmost cell when it reaches the exit

    def occupied(state: tuple[int, ...]) -> set[int]:
        taken = set(walls)
        for pos, stride, length in zip(state, strides, lengths):
            taken.update(pos + stride * k for k in range(length))
        return taken

    parent: dict[tuple[int, ...], tuple[tuple[int, ...], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if state[0] == target:
            return _rush_hour_path(parent, state)
        taken = occupied(state)
        for i, pos in enumerate(state):
            for step in (-1, 1):
                new = _rush_hour_step(pos, strides[i], lengths[i], step, taken, size)
                if new is None:
                    continue
                nxt = state[:i] + (new,) + state[i + 1:]
                if nxt not in parent:
                    parent[nxt] = (state, f"{chr(ord('A') + i)}{'+' if step > 0 else '-'}1")
                    queue.append(nxt)
    return None


def _rush_hour_step(pos: int, stride: int, length: int, step: int, taken: set[int], size: int) -> int | None:
    """New head position after one unit move, or None if the board edge or another piece blocks it."""
    head, tail = pos, pos + stride * (length - 1)
    cell = tail + stride if step > 0 else head - stride
    if stride == 1 and cell // size != head // size:  # horizontal move off the row
        return None
    if not 0 <= cell < size * size or cell in taken:
        return None
    return pos + stride * step


def _rush_hour_path(parent: dict, state: tuple[int, ...]) -> str:
    moves = []
    while parent[state] is not None:
        state, move = parent[state]
        moves.append(move)
    return " ".join(reversed(moves))


def _register_all() -> None:
    for name in RG_TASKS:
        register(name, "reasoning_gym", lambda name=name: ReasoningGymTask(name))


_register_all()
