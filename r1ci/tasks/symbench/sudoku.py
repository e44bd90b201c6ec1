"""standard_sudoku: fill a 9x9 Sudoku grid.

The verifier checks the rules and the givens, not a stored grid, so every valid completion scores 1.0
(puzzles generated with `unique=False` may have several). Backtracking with bitmasks solves any of them in
milliseconds; by hand, a 50+ hole grid takes many error-prone deductions.
"""

from __future__ import annotations

import random
from typing import Any

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, answer_tokens, program


# ----------------------------------------------------------------------------------------------- solver
def sudoku_solutions(grid, limit, order=None):
    """Up to `limit` completions of a 9x9 grid (0 = empty), by backtracking on the most constrained cell.

    `order` (a list of the digits 1..9) sets which digit is tried first; the generator shuffles it.
    """
    grid = [list(row) for row in grid]
    digits = order or list(range(1, 10))
    rows, cols, boxes = [0] * 9, [0] * 9, [0] * 9
    empty = []
    for r in range(9):
        for c in range(9):
            v = grid[r][c]
            if v:
                bit = 1 << v
                if (rows[r] | cols[c] | boxes[r // 3 * 3 + c // 3]) & bit:
                    return []
                rows[r] |= bit
                cols[c] |= bit
                boxes[r // 3 * 3 + c // 3] |= bit
            else:
                empty.append((r, c))
    found = []

    def search():
        if not empty:
            found.append([row[:] for row in grid])
            return len(found) >= limit
        best, best_count = 0, 10
        for i, (r, c) in enumerate(empty):
            # bits 1..9 of `free`: the digits still allowed in this cell
            free = ~(rows[r] | cols[c] | boxes[r // 3 * 3 + c // 3]) & 0x3FE
            count = bin(free).count("1")
            if count < best_count:
                best, best_count = i, count
                if count <= 1:
                    break
        r, c = empty.pop(best)
        b = r // 3 * 3 + c // 3
        used = rows[r] | cols[c] | boxes[b]
        for d in digits:
            if used >> d & 1:
                continue
            bit = 1 << d
            grid[r][c] = d
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
            stop = search()
            rows[r] ^= bit
            cols[c] ^= bit
            boxes[b] ^= bit
            grid[r][c] = 0
            if stop:
                break
        else:
            empty.insert(best, (r, c))
            return False
        empty.insert(best, (r, c))
        return True

    search()
    return found


def sudoku_valid(puzzle, grid) -> bool:
    """True when grid is a complete valid Sudoku that keeps every given of puzzle."""
    if any(p and p != g for prow, grow in zip(puzzle, grid) for p, g in zip(prow, grow)):
        return False
    full = set(range(1, 10))
    units = [grid[r] for r in range(9)] + [[grid[r][c] for r in range(9)] for c in range(9)]
    units += [[grid[r][c] for r in range(br, br + 3) for c in range(bc, bc + 3)]
              for br in (0, 3, 6) for bc in (0, 3, 6)]
    return all(set(u) == full for u in units)


def _full_grid(rng: random.Random) -> list[list[int]]:
    """A random solved grid: the three diagonal boxes filled at random, the rest by the solver."""
    grid = [[0] * 9 for _ in range(9)]
    for b in (0, 3, 6):
        digits = rng.sample(range(1, 10), 9)
        for i, d in enumerate(digits):
            grid[b + i // 3][b + i % 3] = d
    return sudoku_solutions(grid, 1, order=rng.sample(range(1, 10), 9))[0]


def _make_puzzle(rng: random.Random, holes: int, unique: bool, tries: int = 25) -> tuple[list, list]:
    """Blank `holes` random cells; with `unique`, put back givens until one completion is left, then blank
    further cells (up to `tries` attempts) while the completion stays unique."""
    solution = _full_grid(rng)
    cells = [(r, c) for r in range(9) for c in range(9)]
    rng.shuffle(cells)
    puzzle = [row[:] for row in solution]
    for r, c in cells[:holes]:
        puzzle[r][c] = 0
    if not unique:
        return puzzle, solution
    while True:  # put back a given where another completion differs
        sols = sudoku_solutions(puzzle, 2)
        if len(sols) == 1:
            break
        other = sols[0] if sols[0] != solution else sols[1]
        diff = [(r, c) for r in range(9) for c in range(9) if other[r][c] != solution[r][c]]
        r, c = rng.choice(diff)
        puzzle[r][c] = solution[r][c]
    givens = [(r, c) for r, c in cells if puzzle[r][c]]
    for r, c in givens[:tries]:
        if sum(v == 0 for row in puzzle for v in row) >= holes:
            break
        puzzle[r][c] = 0
        if len(sudoku_solutions(puzzle, 2)) != 1:
            puzzle[r][c] = solution[r][c]
    return puzzle, solution


class StandardSudoku(ProceduralTask):
    """Complete a 9x9 Sudoku; any valid completion that keeps the givens is correct."""

    name = "standard_sudoku"
    defaults = {"holes": 52, "unique": True}
    harder = {"holes": 56, "unique": True}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        puzzle, solution = _make_puzzle(rng, p["holes"], p["unique"])
        text = "\n".join(",".join(str(v) if v else " " for v in row) for row in puzzle)
        question = (
            "Given a 9x9 Sudoku grid, each cell must be filled with a number between 1 and 9. No number may "
            "appear more than once in the same row, column, or 3x3 subgrid. Some cells are pre-filled; empty "
            f"cells are blank. Please fill the remaining empty cells.\n{text}\n\nReturn the completed grid "
            "as 9 lines of 9 comma-separated numbers, in the format <<<a 9x9 matrix>>>, for example "
            "<<<\n1,2,3,4,5,6,7,8,9\n...\n>>> with all nine rows.")
        answer = "\n".join(",".join(map(str, row)) for row in solution)
        return question, answer, {"puzzle": puzzle}

    def _score(self, answer: str, item: TaskItem) -> float:
        toks = answer_tokens(answer, limit=2000)
        if toks is None:
            return 0.0
        if len(toks) == 9 and all(len(t) == 9 for t in toks):  # rows written as "123456789"
            toks = [ch for t in toks for ch in t]
        if len(toks) != 81 or any(t not in "123456789" or len(t) != 1 for t in toks):
            return 0.0
        grid = [[int(t) for t in toks[r * 9:(r + 1) * 9]] for r in range(9)]
        return float(sudoku_valid(item.meta["puzzle"], grid))

    def solve(self, item: TaskItem) -> str:
        call = (f"puzzle = {item.meta['puzzle']!r}\nsolution = sudoku_solutions(puzzle, 1)[0]\n"
                "print('\\n'.join(','.join(map(str, row)) for row in solution))")
        return program(sudoku_solutions, call=call)


TASKS = [StandardSudoku]
