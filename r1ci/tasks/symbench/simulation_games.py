"""Rule-following simulations with one exact answer: 2048, light_puzzles, mahjong_pattern (SymBench).

Each question describes a small state machine and a sequence of inputs; the answer is the final state (or
the final round's verdict). Text-only reasoning must track every step without a slip; a program just runs
the rules, which is what the oracle solver does.
"""

from __future__ import annotations

import re
import string

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import (
    ProceduralTask,
    answer_tokens,
    bounded_answer,
    literal_or_none,
    parse_int,
    program,
)


def _grid_text(grid: list[list[int]], sep: str = ", ") -> str:
    return "\n".join(sep.join(str(x) for x in row) for row in grid)


def parse_int_grid(answer: str, rows: int, cols: int) -> list[list[int]] | None:
    """A rows x cols integer matrix from `a, b\\nc, d` lines or a `[[a, b], [c, d]]` literal, else None."""
    s = bounded_answer(answer, 40 * rows * cols + 200)
    if not s:
        return None
    if s.startswith("["):
        value = literal_or_none(s, max_depth=3)
        if isinstance(value, list) and value and type(value[0]) is int and len(value) == rows * cols:  # flat
            value = [value[r * cols:(r + 1) * cols] for r in range(rows)]
        grid = value
    else:
        lines = [ln for ln in s.splitlines() if ln.strip()]
        grid = [[parse_int(t) for t in re.split(r"[\s,;]+", ln.strip(" []")) if t] for ln in lines]
    if not isinstance(grid, list) or len(grid) != rows:
        return None
    for row in grid:
        if not isinstance(row, list) or len(row) != cols or any(type(x) is not int for x in row):
            return None
    return grid


# ----------------------------------------------------------------------------------------------------------
# 2048
# ----------------------------------------------------------------------------------------------------------

def play_2048(grid, start, moves):
    """Move the number at `start` (0-based) step by step: into empty cells, merging with an equal number."""
    grid = [row[:] for row in grid]
    n = len(grid)
    r, c = start
    step = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}
    for m in moves:
        dr, dc = step[m]
        nr, nc = r + dr, c + dc
        if not (0 <= nr < n and 0 <= nc < n):
            continue
        if grid[nr][nc] == 0:
            grid[nr][nc], grid[r][c] = grid[r][c], 0
        elif grid[nr][nc] == grid[r][c]:
            grid[nr][nc], grid[r][c] = 2 * grid[r][c], 0
        else:
            continue
        r, c = nr, nc
    return grid


class Game2048(ProceduralTask):
    """Track one tile through a move sequence with 2048-style merging."""

    name = "2048"
    defaults = {"size": 5, "moves": 8}
    harder = {"size": 7, "moves": 20}

    def _make(self, rng, params):
        n, k = params["size"], params["moves"]
        grid = [[0] * n for _ in range(n)]
        cells = rng.sample([(i, j) for i in range(n) for j in range(n)], rng.randint(n, 2 * n))
        for i, j in cells:
            grid[i][j] = rng.choice([2, 4, 8, 16, 32])
        start = rng.choice(cells)
        moves = "".join(rng.choice("udlr") for _ in range(k))
        final = play_2048(grid, start, moves)
        question = (
            f"In a {n}x{n} grid, some squares contain powers of 2 (0 means empty). We define the '2048' "
            "game: "
            f"the chosen number moves one step per move. If the next square is empty, it moves there. If the "
            f"next square holds the same number, they combine into the next power of 2 (2 meets 2 -> 4, "
            f"16 meets 16 -> 32) in that next square, and the combined number keeps moving with later moves. "
            f"If the next square holds a different number or is outside the grid, the number stays where it "
            f"is for that move.\nu: move up one step\nd: move down one step\nl: move left one step\n"
            f"r: move right one step\n\n"
            f"In the following matrix, move the number at position ({start[0] + 1}, {start[1] + 1}) "
            "(row, column; 1-based, top-left is (1, 1)) using the sequence "
            f"'{moves}':\n{_grid_text(grid)}\n\n"
            f"What is the matrix after moving? Answer with one row per line, numbers separated by commas, "
            f"for example <<<0, 2\n4, 0>>>."
        )
        meta = {"grid": grid, "start": list(start), "moves": moves, "final": final}
        return question, _grid_text(final), meta

    def _score(self, answer: str, item: TaskItem) -> float:
        final = item.meta["final"]
        return float(parse_int_grid(answer, len(final), len(final)) == final)

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"final = play_2048({m['grid']!r}, {tuple(m['start'])!r}, {m['moves']!r})\n"
                "print('\\n'.join(', '.join(str(x) for x in row) for row in final))")
        return program(play_2048, call=call)


# ----------------------------------------------------------------------------------------------------------
# light_puzzles
# ----------------------------------------------------------------------------------------------------------

def press_buttons(state, buttons, presses):
    """Toggle every light a pressed button controls (1-based [row, col]); the flattened final state."""
    state = [row[:] for row in state]
    for name in presses:
        for r, c in buttons[name]:
            state[r - 1][c - 1] ^= 1
    return [x for row in state for x in row]


class LightPuzzles(ProceduralTask):
    """Apply a sequence of button presses, each toggling a fixed set of lights, and report the grid."""

    name = "light_puzzles"
    defaults = {"size": 5, "buttons": 3, "presses": 6}
    harder = {"size": 7, "buttons": 5, "presses": 12}

    def _make(self, rng, params):
        n, nb, k = params["size"], params["buttons"], params["presses"]
        state = [[rng.randint(0, 1) for _ in range(n)] for _ in range(n)]
        positions = [[i + 1, j + 1] for i in range(n) for j in range(n)]
        buttons = {chr(65 + b): sorted(rng.sample(positions, rng.randint(2, n * n // 2))) for b in range(nb)}
        presses = [rng.choice(sorted(buttons)) for _ in range(k)]
        final = press_buttons(state, buttons, presses)
        button_text = "\n".join(
            f"Button {b} controls the lights at " + ", ".join(f'["{r}", "{c}"]' for r, c in pos)
            for b, pos in buttons.items())
        rounds = "\n".join(f"Round {i + 1}: Button {b}" for i, b in enumerate(presses))
        question = (
            "There is an n*n grid of lights. A lit light is represented by 1 and an unlit light by 0. Each "
            "button toggles (0 <-> 1) the lights at the positions it controls when pressed; different "
            "buttons "
            "may control the same light. Positions are [\"row\", \"column\"], 1-based from the top-left.\n"
            f"Given n={n} and the number of buttons={nb}, the initial network is:\n"
            f"{_grid_text(state, sep='')}\n\n{button_text}\n\n{rounds}\n\n"
            "Please write the state of the lights after all rounds, row by row as one comma-separated list. "
            f"For example, <<<{','.join(['0'] * n * n)}>>> represents a fully unlit network."
        )
        meta = {"state": state, "buttons": buttons, "presses": presses, "final": final}
        return question, ",".join(map(str, final)), meta

    def _score(self, answer: str, item: TaskItem) -> float:
        final = item.meta["final"]
        tokens = answer_tokens(answer, limit=8 * len(final) + 100)
        if tokens is None or len(tokens) != len(final):
            return 0.0
        return float([parse_int(t, 1) for t in tokens] == final)

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = f"print(','.join(map(str, press_buttons({m['state']!r}, {m['buttons']!r}, {m['presses']!r}))))"
        return program(press_buttons, call=call)


# ----------------------------------------------------------------------------------------------------------
# mahjong_pattern
# ----------------------------------------------------------------------------------------------------------

def mahjong_verdict(hand, new):
    """1 (Peng) if the hand holds two cards equal to `new`; else 2 (Chi) if two hand cards and `new` form
    three consecutive letters; else 0 (Pass)."""
    if hand.count(new) >= 2:
        return 1
    k = ord(new)
    for lo in (k - 2, k - 1, k):
        others = [chr(x) for x in range(lo, lo + 3) if x != k]
        if all("A" <= o <= "Z" and o in hand for o in others):
            return 2
    return 0


def play_mahjong(initial, rounds):
    """Run the rounds (add, verdict, then remove); the verdict of the last round."""
    hand = list(initial)
    verdict = None
    for add, remove in rounds:
        verdict = mahjong_verdict(hand, add)
        hand.append(add)
        if remove is not None:
            hand.remove(remove)
    return verdict


class MahjongPattern(ProceduralTask):
    """Letter-card rounds with Peng/Chi/Pass verdicts; report the verdict of the final round."""

    name = "mahjong_pattern"
    defaults = {"rounds": 8}
    harder = {"rounds": 16}

    def _pick_card(self, rng, hand: list[str], want: int) -> str:
        letters = string.ascii_uppercase
        choices = [c for c in letters if mahjong_verdict(hand, c) == want]
        return rng.choice(choices or list(letters))

    def _make(self, rng, params):
        pool = [c for c in string.ascii_uppercase for _ in range(2)]
        initial = "".join(rng.sample(pool, 13))
        hand, rounds = list(initial), []
        for i in range(params["rounds"]):
            add = self._pick_card(rng, hand, rng.randint(0, 2))
            hand.append(add)
            remove = None if i == params["rounds"] - 1 else rng.choice(hand)
            if remove is not None:
                hand.remove(remove)
            rounds.append([add, remove])
        verdict = play_mahjong(initial, rounds)
        lines = [f"Round {i + 1}: Add a {a} card" + (f" and remove a {r} card." if r else ".")
                 for i, (a, r) in enumerate(rounds)]
        rules = (
            "1. Initially, there are 13 cards.\n"
            "2. Each round, a new card is added and a result is determined; then one card is removed.\n"
            "3. If the hand (before adding) holds at least two cards identical to the new card, the result "
            "is \"Peng\", represented by the number 1.\n"
            "4. Otherwise, if two cards in hand and the new card can form three consecutive letters (for "
            "example ABC or OPQ), the result is \"Chi\", represented by the number 2.\n"
            "5. If neither 3 nor 4 applies, the result is \"Pass\", represented by the number 0.\n"
            "6. \"Peng\" takes precedence over \"Chi\".\n"
            "7. The card removed in a round does not affect that round's result, only later rounds."
        )
        question = (
            f"There are several letter cards, and the game rules are as follows:\n{rules}\n"
            f"Given the initial cards: {initial}\n\n" + "\n".join(lines) + "\n\n"
            "Based on the above information, determine the number judged in the final round. "
            "Return your answer with the format <<<x>>>, where x is 0 for Pass, 1 for Peng, or 2 for Chi."
        )
        return question, str(verdict), {"initial": initial, "rounds": rounds, "verdict": verdict}

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, 20)
        if s is None:
            return 0.0
        words = {"pass": 0, "peng": 1, "chi": 2}
        value = words.get(s.lower(), parse_int(s, 1))
        return float(value == item.meta["verdict"])

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = f"print(play_mahjong({m['initial']!r}, {m['rounds']!r}))"
        return program(mahjong_verdict, play_mahjong, call=call)


TASKS = [Game2048, LightPuzzles, MahjongPattern]
