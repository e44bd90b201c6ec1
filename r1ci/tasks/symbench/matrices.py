"""Grid tasks: matrix_transformation, pooling, pattern_recognition.

Each is mechanical for code (index arithmetic over a grid) and error-prone by hand: one misplaced cell
out of dozens makes the answer wrong, which is the point of the SymBench versions.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, answer_tokens, parse_int_list, parse_rational, program

CELL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789!@#$%^&*"
OPS = {
    "rot90": "rotate the matrix 90 degrees clockwise",
    "rot270": "rotate the matrix 90 degrees counterclockwise",
    "rot180": "rotate the matrix 180 degrees",
    "transpose": "transpose the matrix (reflect it across its main diagonal)",
    "fliph": "flip the matrix horizontally (reverse the order of the values in every row)",
    "flipv": "flip the matrix vertically (reverse the order of the rows)",
}


# ----------------------------------------------------------------------------------------------- solvers
def transform_matrix(matrix, ops):
    """Apply the named operations in order; the matrix is a list of rows."""
    for op in ops:
        if op == "rot90":
            matrix = [list(row) for row in zip(*matrix[::-1])]
        elif op == "rot270":
            matrix = [list(row) for row in zip(*matrix)][::-1]
        elif op == "rot180":
            matrix = [row[::-1] for row in matrix[::-1]]
        elif op == "transpose":
            matrix = [list(row) for row in zip(*matrix)]
        elif op == "fliph":
            matrix = [row[::-1] for row in matrix]
        elif op == "flipv":
            matrix = matrix[::-1]
        else:
            raise ValueError(op)
    return matrix


def pool_matrix(matrix, window, stride, kind):
    """Slide a window x window box with the given stride; max or exact average (a Fraction) of each box."""
    from fractions import Fraction

    n = len(matrix)
    out = []
    for i in range(0, n - window + 1, stride):
        row = []
        for j in range(0, n - window + 1, stride):
            box = [matrix[i + a][j + b] for a in range(window) for b in range(window)]
            row.append(max(box) if kind == "max" else Fraction(sum(box), len(box)))
        out.append(row)
    return out


def largest_uniform_square(grid):
    """(side, row, col) of the largest square of equal characters, found by bottom-right corner (DP).

    Also returns the table size[r][c]: the side of the largest such square ending at (r, c).
    """
    rows, cols = len(grid), len(grid[0])
    size = [[1] * cols for _ in range(rows)]
    best = (1, 0, 0)
    for r in range(rows):
        for c in range(cols):
            if r and c and grid[r][c] == grid[r - 1][c] == grid[r][c - 1] == grid[r - 1][c - 1]:
                size[r][c] = 1 + min(size[r - 1][c], size[r][c - 1], size[r - 1][c - 1])
            if size[r][c] > best[0]:
                best = (size[r][c], r, c)
    return best, size


# ----------------------------------------------------------------------------------- matrix_transformation
class MatrixTransformation(ProceduralTask):
    """Rotate/flip/transpose a character matrix through a chain of operations."""

    name = "matrix_transformation"
    defaults = {"min_size": 4, "max_size": 6, "n_ops": 2}
    harder = {"min_size": 6, "max_size": 10, "n_ops": 4}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        rows, cols = rng.randint(p["min_size"], p["max_size"]), rng.randint(p["min_size"], p["max_size"])
        matrix = [[rng.choice(CELL_CHARS) for _ in range(cols)] for _ in range(rows)]
        ops = ["rot90"] + [rng.choice(list(OPS)) for _ in range(p["n_ops"] - 1)]
        rng.shuffle(ops)
        result = transform_matrix(matrix, ops)
        steps = "\n".join(f"{i}. {OPS[op].capitalize()}." for i, op in enumerate(ops, 1))
        grid = "\n".join(" ".join(row) for row in matrix)
        question = (
            f"Given a {rows}x{cols} matrix of characters (one row per line, values separated by spaces):\n\n"
            f"{grid}\n\nApply the following operations in order:\n{steps}\n\nOutput all values of the "
            "resulting matrix row by row (top row first, left to right), separated by commas. For example, "
            "<<<A,B,C,D>>> represents the 2x2 matrix with rows 'A B' and 'C D'.")
        answer = ",".join(v for row in result for v in row)
        return question, answer, {"matrix": matrix, "ops": ops, "solution": answer}

    def _score(self, answer: str, item: TaskItem) -> float:
        expected = item.meta["solution"].split(",")
        toks = answer_tokens(answer, limit=4 * len(expected) + 200)
        return float(toks == expected)

    def solve(self, item: TaskItem) -> str:
        call = (f"matrix = {item.meta['matrix']!r}\nops = {item.meta['ops']!r}\nresult = "
                "transform_matrix(matrix, ops)\nprint(','.join(v for row in result for v in row))")
        return program(transform_matrix, call=call)


# -------------------------------------------------------------------------------------------------- pooling
class Pooling(ProceduralTask):
    """Max or average pooling of an integer matrix with a sliding window."""

    name = "pooling"
    defaults = {"min_size": 5, "max_size": 8, "min_window": 2, "max_window": 3, "strides": [1]}
    harder = {"min_size": 9, "max_size": 12, "min_window": 2, "max_window": 4, "strides": [1, 2]}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        n = rng.randint(p["min_size"], p["max_size"])
        window = rng.randint(p["min_window"], min(p["max_window"], n - 1))
        stride = rng.choice(list(p["strides"]))
        kind = rng.choice(["max", "average"])
        matrix = [[rng.randint(-10, 20) for _ in range(n)] for _ in range(n)]
        out = pool_matrix(matrix, window, stride, kind)
        what = "the maximum value" if kind == "max" else "the average value"
        question = (
            f"In a grid of size {n}x{n} there are {n * n} integers; numbers in the same row are separated by "
            f"commas. We define the \"{kind} pooling\" operation: a {window}x{window} window starts at the "
            f"top-left corner and slides from left to right and from top to bottom, moving {stride} cell(s) "
            f"at a time and staying inside the grid. For each window position take {what} of the numbers "
            "inside the window; these values, arranged by the positions of their windows, form the output "
            f"matrix.\nPerform {kind} pooling on this matrix:\n"
            + "\n".join(", ".join(map(str, row)) for row in matrix)
            + "\n\nOutput the resulting matrix row by row, all values separated by commas; for example "
            "<<<1,2,3,4>>> represents a 2x2 matrix. "
            + ("Write each average exactly as an integer or a fraction like 7/3, or as a decimal rounded to "
               "2 places." if kind == "average" else ""))
        answer = ",".join(str(v) for row in out for v in row)
        meta = {"matrix": matrix, "window": window, "stride": stride, "kind": kind, "solution": answer}
        return question, answer, meta

    def _score(self, answer: str, item: TaskItem) -> float:
        expected = [Fraction(t) for t in item.meta["solution"].split(",")]
        toks = answer_tokens(answer, limit=24 * len(expected) + 200)
        if toks is None or len(toks) != len(expected):
            return 0.0
        for tok, want in zip(toks, expected):
            got = parse_rational(tok)
            if got is None:
                return 0.0
            rounded = "." in tok and "/" not in tok and len(tok.split(".")[1]) >= 2
            if got != want and not (rounded and abs(got - want) <= Fraction(5, 1000)):
                return 0.0
        return 1.0

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"matrix = {m['matrix']!r}\nout = pool_matrix(matrix, {m['window']}, {m['stride']}, "
                f"{m['kind']!r})\nprint(','.join(str(v) for row in out for v in row))")
        return program(pool_matrix, call=call)


# -------------------------------------------------------------------------------------- pattern_recognition
class PatternRecognition(ProceduralTask):
    """Find the one large square of equal characters hidden in a character matrix."""

    name = "pattern_recognition"
    defaults = {"min_size": 12, "max_size": 16, "alphabet": 4, "min_side": 3, "max_side": 5}
    harder = {"min_size": 20, "max_size": 28, "alphabet": 3, "min_side": 3, "max_side": 6}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        letters = rng.sample("ABCDEFGHIJKLMNOPQRSTUVWXYZ", p["alphabet"])
        while True:
            rows, cols = rng.randint(p["min_size"], p["max_size"]), rng.randint(p["min_size"], p["max_size"])
            side = rng.randint(p["min_side"], min(p["max_side"], rows // 2, cols // 2))
            grid = [[rng.choice(letters) for _ in range(cols)] for _ in range(rows)]
            top, left = rng.randint(0, rows - side), rng.randint(0, cols - side)
            ch = rng.choice(letters)
            for r in range(top, top + side):
                grid[r][left:left + side] = [ch] * side
            if self._only_square(grid, top, left, side):
                break
        bottom, right = top + side - 1, left + side - 1
        text = "\n".join(" ".join(row) for row in grid)
        question = (
            f"Given a character matrix with {rows} rows and {cols} columns:\n\n{text}\n\nSomewhere in it is "
            "a square block (side length at least 3) whose cells all hold the same character. Exactly one "
            "such square exists that is not part of a larger one; find the largest square of identical "
            "characters with side length at least 3 and give the row and column of its bottom-right corner. "
            "Rows and columns are numbered from 0 (top row 0, leftmost column 0).\nAnswer in the format "
            "<<<[row, column]>>>.")
        answer = f"[{bottom}, {right}]"
        meta = {"grid": ["".join(r) for r in grid], "row": bottom, "col": right, "side": side}
        return question, answer, meta

    @staticmethod
    def _only_square(grid, top, left, side) -> bool:
        """True when every square of side >= 3 lies inside the planted one (so the answer is unique)."""
        (best, _, _), size = largest_uniform_square(grid)
        if best != side:
            return False
        return all(size[r][c] < 3 or (top <= r - size[r][c] + 1 and r < top + side
                                      and left <= c - size[r][c] + 1 and c < left + side)
                   for r in range(len(grid)) for c in range(len(grid[0])))

    def _score(self, answer: str, item: TaskItem) -> float:
        got = parse_int_list(answer, 2, max_digits=6)
        return float(got == [item.meta["row"], item.meta["col"]])

    def solve(self, item: TaskItem) -> str:
        call = (f"grid = {item.meta['grid']!r}\n(side, row, col), _ = largest_uniform_square(grid)\n"
                "print(f'[{row}, {col}]')")
        return program(largest_uniform_square, call=call)


TASKS = [MatrixTransformation, Pooling, PatternRecognition]
