"""Grid placement puzzles: eight_queens, letter_logic_diagram, logic_puzzle (SymBench).

All three have many valid answers in general, so the verifier checks the puzzle's constraints, never the
generated solution. Solvers are plain backtracking searches.
"""

from __future__ import annotations

import random
import re

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, bounded_answer, program, program_with_imports


def parse_positions(answer: str, max_count: int) -> list[tuple[int, int]] | None:
    """'0 3, 1 0, 2 4' (or '(0,3), (1,0)' or '[[0, 3], [1, 0]]') -> [(0, 3), (1, 0), (2, 4)]."""
    s = bounded_answer(answer, 12 * max_count + 100)
    if not s or not re.fullmatch(r"[\d\s,;()\[\]]+", s):
        return None
    nums = re.findall(r"\d{1,3}", s)
    if len(nums) % 2 or len(nums) > 2 * max_count:
        return None
    return [(int(nums[i]), int(nums[i + 1])) for i in range(0, len(nums), 2)]


def _positions_text(cells) -> str:
    return ", ".join(f"{r} {c}" for r, c in cells)


# ----------------------------------------------------------------------------------------------------------
# eight_queens
# ----------------------------------------------------------------------------------------------------------

def place_queens(board, order=None):
    """Complete the board ('1' queen, 'X' blocked, '0' free) row by row with non-attacking queens;
    the queen positions, or None. `order` optionally permutes the column order tried (generation)."""
    n = len(board)
    fixed = {r: c for r in range(n) for c in range(n) if board[r][c] == "1"}
    cols = order or list(range(n))
    queens = []

    def safe(r, c):
        return all(c != qc and abs(r - qr) != abs(c - qc) for qr, qc in queens)

    def search(r):
        if r == n:
            return True
        choices = [fixed[r]] if r in fixed else [c for c in cols if board[r][c] == "0"]
        for c in choices:
            clash = any(fr != r and (c == fc or abs(r - fr) == abs(c - fc)) for fr, fc in fixed.items())
            if safe(r, c) and not clash:
                queens.append((r, c))
                if search(r + 1):
                    return True
                queens.pop()
        return False

    return queens if search(0) else None


class EightQueens(ProceduralTask):
    """Complete a partially filled N-queens board that also has forbidden cells."""

    name = "eight_queens"
    defaults = {"size": 8, "placed": 2, "blocked": 8}
    harder = {"size": 10, "placed": 2, "blocked": 16}

    def _make(self, rng, params):
        n = params["size"]
        order = list(range(n))
        rng.shuffle(order)
        solution = place_queens(["0" * n] * n, order)
        preset = rng.sample(solution, params["placed"])
        free = [(r, c) for r in range(n) for c in range(n) if (r, c) not in solution]
        blocked = rng.sample(free, params["blocked"])
        rows = [["0"] * n for _ in range(n)]
        for r, c in preset:
            rows[r][c] = "1"
        for r, c in blocked:
            rows[r][c] = "X"
        board = ["".join(row) for row in rows]
        question = (
            f"Given an {n}*{n} grid, cells marked with 1 already have a queen, cells marked with 0 are "
            "empty, "
            f"and cells marked with X may not hold a queen. A total of {n} queens must be placed so that no "
            "two "
            f"queens attack each other: no two queens in the same row, column or diagonal. Complete the "
            f"placement on this board:\n\n" + "\n".join(board) + "\n\n"
            f"Return the positions of all {n} queens (including those already placed) as row column pairs "
            f"(0-based indices), for example <<<0 3, 1 0, 2 4>>> for queens at (0,3), (1,0) and (2,4)."
        )
        return question, _positions_text(sorted(solution)), {"board": board}

    def _score(self, answer: str, item: TaskItem) -> float:
        board = item.meta["board"]
        n = len(board)
        queens = parse_positions(answer, n)
        if not queens or len(queens) != n or len(set(queens)) != n:
            return 0.0
        if any(not (0 <= r < n and 0 <= c < n) or board[r][c] == "X" for r, c in queens):
            return 0.0
        preset = {(r, c) for r in range(n) for c in range(n) if board[r][c] == "1"}
        if not preset <= set(queens):
            return 0.0
        for i, (r1, c1) in enumerate(queens):
            for r2, c2 in queens[i + 1:]:
                if r1 == r2 or c1 == c2 or abs(r1 - r2) == abs(c1 - c2):
                    return 0.0
        return 1.0

    def solve(self, item: TaskItem) -> str:
        call = (f"queens = place_queens({item.meta['board']!r})\n"
                "print(', '.join(f'{r} {c}' for r, c in queens))")
        return program(place_queens, call=call)


# ----------------------------------------------------------------------------------------------------------
# letter_logic_diagram
# ----------------------------------------------------------------------------------------------------------

def fill_letter_grid(grid, letters, seed=None):
    """Fill the '' cells so each row and column holds every letter once and the minor diagonal
    (top-right to bottom-left) holds one letter throughout. Most constrained cell first. With a `seed` the
    letters are tried in a fresh random order at every cell: one shuffled order for the whole search would
    only rename the letters of one fixed square, so every generated grid would share its structure."""
    n = len(grid)
    grid = [row[:] for row in grid]
    order = list(letters)
    rnd = random.Random(seed) if seed is not None else None

    def candidates(r, c):
        used = set(grid[r]) | {grid[i][c] for i in range(n)}
        opts = [x for x in order if x not in used]
        if r + c == n - 1:
            diag = {grid[i][n - 1 - i] for i in range(n)} - {""}
            opts = [x for x in opts if not diag or x in diag]
        return opts

    def search():
        best = None
        for r in range(n):
            for c in range(n):
                if grid[r][c] == "":
                    opts = candidates(r, c)
                    if best is None or len(opts) < len(best[2]):
                        best = (r, c, opts)
        if best is None:
            return True
        r, c, opts = best
        if rnd is not None:
            rnd.shuffle(opts)
        for x in opts:
            grid[r][c] = x
            if search():
                return True
        grid[r][c] = ""
        return False

    return grid if search() else None


def check_letter_grid(grid, puzzle, letters) -> bool:
    n = len(puzzle)
    if len(grid) != n or any(len(row) != n for row in grid):
        return False
    full = set(letters)
    if any(set(row) != full for row in grid) or any({grid[r][c] for r in range(n)} != full for c in range(n)):
        return False
    if len({grid[r][n - 1 - r] for r in range(n)}) != 1:
        return False
    return all(puzzle[r][c] in ("", grid[r][c]) for r in range(n) for c in range(n))


class LetterLogicDiagram(ProceduralTask):
    """A Latin square of letters with a uniform minor diagonal, from a partially filled grid."""

    name = "letter_logic_diagram"
    defaults = {"size": 7, "blanks": 30}
    harder = {"size": 7, "blanks": 38}

    def _make(self, rng, params):
        n = params["size"]
        letters = "abcdefghij"[:n]
        full = fill_letter_grid([[""] * n for _ in range(n)], letters, seed=rng.random())
        puzzle = [row[:] for row in full]
        for r, c in rng.sample([(r, c) for r in range(n) for c in range(n)], params["blanks"]):
            puzzle[r][c] = ""
        shown = "\n".join(",".join(row) for row in puzzle)
        set_text = "{" + letters[0] + ".." + letters[-1] + "}"
        question = (
            f"Given a {n}x{n} grid of letters {set_text}, some cells are pre-filled. Fill the rest so that:\n"
            f"1) Each row has exactly one of each letter {set_text}.\n"
            f"2) Each column has exactly one of each letter {set_text}.\n"
            f"3) All cells on the minor diagonal (top-right to bottom-left) contain the same letter.\n\n"
            "Here is the puzzle (each row on its own line, cells separated by commas, empty cells "
            "blank):\n\n"
            f"{shown}\n\nReturn the filled grid with one row per line and the {n} letters of a row separated "
            f"by commas, for example <<<\n" + "\n".join(",".join(row) for row in
                                                      [list(letters[i:] + letters[:i]) for i in range(2)])
            + "\n...\n>>>"
        )
        return question, "\n".join(",".join(row) for row in full), {"puzzle": puzzle, "letters": letters}

    def _score(self, answer: str, item: TaskItem) -> float:
        puzzle, letters = item.meta["puzzle"], item.meta["letters"]
        s = bounded_answer(answer, 10 * len(puzzle) ** 2 + 100)
        if not s:
            return 0.0
        lines = [ln.strip().strip("[]") for ln in s.splitlines() if ln.strip()]
        grid = [[t.strip().strip("'\"").lower() for t in re.split(r"[,\s]+", ln.strip(", ")) if t.strip()]
                for ln in lines]
        return float(check_letter_grid(grid, puzzle, letters))

    def solve(self, item: TaskItem) -> str:
        call = (f"grid = fill_letter_grid({item.meta['puzzle']!r}, {item.meta['letters']!r})\n"
                "print('\\n'.join(','.join(row) for row in grid))")
        return program_with_imports("import random", fill_letter_grid, call=call)


# ----------------------------------------------------------------------------------------------------------
# logic_puzzle
# ----------------------------------------------------------------------------------------------------------

def select_cells(grid, k, start, rule):
    """Choose k cells with pairwise different numbers, including `start`, such that in every row and every
    column the selected numbers have a product > 0 (rule 'product') or a sum <= 4 (rule 'sum').

    Product: only the negatives matter, and they must come in even numbers per row and column; positive
    cells are free. So try no negatives, then every rectangle of four negative corners, then pairs of
    disjoint rectangles, topping up with one cell per distinct positive number.
    Sum (all numbers positive): depth-first over cells in reading order with running row/column sums."""
    n = len(grid)
    start = tuple(start)
    if rule == "sum":
        cells = [(r, c) for r in range(n) for c in range(n) if (r, c) != start]
        chosen, used = [start], {grid[start[0]][start[1]]}
        rows, cols = [0] * n, [0] * n
        rows[start[0]] = cols[start[1]] = grid[start[0]][start[1]]

        def search(idx):
            if len(chosen) == k:
                return True
            if len(cells) - idx < k - len(chosen):
                return False
            r, c = cells[idx]
            v = grid[r][c]
            if v not in used and rows[r] + v <= 4 and cols[c] + v <= 4:
                chosen.append((r, c))
                used.add(v)
                rows[r] += v
                cols[c] += v
                if search(idx + 1):
                    return True
                chosen.pop()
                used.discard(v)
                rows[r] -= v
                cols[c] -= v
            return search(idx + 1)

        return sorted(chosen) if grid[start[0]][start[1]] <= 4 and search(0) else None

    neg = [(r, c) for r in range(n) for c in range(n) if grid[r][c] < 0]
    rects = []
    for i, (r1, c1) in enumerate(neg):
        for r2, c2 in neg[i + 1:]:
            if r2 > r1 and c2 > c1 and grid[r1][c2] < 0 and grid[r2][c1] < 0:
                corners = [(r1, c1), (r1, c2), (r2, c1), (r2, c2)]
                if len({grid[r][c] for r, c in corners}) == 4:
                    rects.append(corners)
    options = [[]] + rects + [a + b for i, a in enumerate(rects) for b in rects[i + 1:]
                              if len({grid[r][c] for r, c in a + b}) == 8]
    for negatives in options:
        if grid[start[0]][start[1]] < 0 and start not in negatives:
            continue
        picked = list(negatives)
        seen = {grid[r][c] for r, c in picked}
        for r, c in [start] + [(r, c) for r in range(n) for c in range(n)]:
            if len(picked) == k:
                break
            if grid[r][c] > 0 and grid[r][c] not in seen:
                picked.append((r, c))
                seen.add(grid[r][c])
        if len(picked) == k and start in picked:
            return sorted(picked)
    return None


def check_selection(grid, k, start, rule, cells) -> bool:
    n = len(grid)
    if len(cells) != k or len(set(cells)) != k or tuple(start) not in cells:
        return False
    if any(not (0 <= r < n and 0 <= c < n) for r, c in cells):
        return False
    vals = [grid[r][c] for r, c in cells]
    if len(set(vals)) != k:
        return False
    for i in range(n):
        for line in ([grid[r][c] for r, c in cells if r == i], [grid[r][c] for r, c in cells if c == i]):
            if line and (sum(line) > 4 if rule == "sum" else sum(v < 0 for v in line) % 2):
                return False
    return True


class LogicPuzzle(ProceduralTask):
    """Select k cells with different numbers so each row's and column's selection meets a rule."""

    name = "logic_puzzle"
    defaults = {"size": 7, "select": 16, "max_abs": 14, "rule": "product"}
    harder = {"size": 9, "select": 20, "max_abs": 18, "rule": "product"}

    def _make(self, rng, params):
        n, k, hi = params["size"], params["select"], params["max_abs"]
        while True:
            if params["rule"] == "sum":
                grid = [[rng.randint(1, hi) for _ in range(n)] for _ in range(n)]
            else:
                grid = [[rng.randint(1, hi) if rng.random() < 0.7 else rng.randint(-hi, -1) for _ in range(n)]
                        for _ in range(n)]
            start = [0, n - 1]
            found = select_cells(grid, k, start, params["rule"])
            if found:
                break
        rule_text = ("the sum of the selected numbers in each row and in each column must be less than or "
                     "equal to 4" if params["rule"] == "sum" else
                     "the product of the selected numbers in each row and in each column must be greater "
                     "than 0 (rows and columns with no selected number are unconstrained)")
        question = (
            f"Given a {n}*{n} grid where each cell contains a number (between {min(map(min, grid))} and "
            f"{max(map(max, grid))}), you must select {k} cells holding {k} different numbers. Additionally, "
            f"{rule_text}. Positions are (row, column) with 0-based indices, (0, 0) being the top-left cell. "
            f"The number {grid[0][n - 1]} in the top-right cell (0, {n - 1}) must be one of the selected "
            f"numbers. The numbers in the same row are separated by ', ':\n"
            + "\n".join(", ".join(map(str, row)) for row in grid) + "\n\n"
            "Return the positions of the selected cells as row column pairs, for example <<<0 3, 1 0, 2 4>>> "
            "means the cells at (0,3), (1,0) and (2,4) are selected."
        )
        meta = {"grid": grid, "select": k, "start": start, "rule": params["rule"]}
        return question, _positions_text(found), meta

    def _score(self, answer: str, item: TaskItem) -> float:
        m = item.meta
        cells = parse_positions(answer, m["select"])
        if cells is None:
            return 0.0
        return float(check_selection(m["grid"], m["select"], m["start"], m["rule"], cells))

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"cells = select_cells({m['grid']!r}, {m['select']}, {m['start']!r}, {m['rule']!r})\n"
                f"print(', '.join(f'{{r}} {{c}}' for r, c in cells))")
        return program(select_cells, call=call)


TASKS = [EightQueens, LetterLogicDiagram, LogicPuzzle]
