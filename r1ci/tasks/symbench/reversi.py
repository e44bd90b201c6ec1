"""reversi: play a given sequence of Reversi moves from a given position and report the final board.

Every move can flip lines in up to eight directions; tracking several moves on an 8x8 board by hand is
error-prone, while a simulation is a dozen lines. The final board is unique, so the verifier compares
cell by cell.
"""

from __future__ import annotations

import random
from typing import Any

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, answer_tokens, program


# ----------------------------------------------------------------------------------------------- solver
def reversi_flips(board, row, col, player):
    """Cells flipped if `player` ('0' or '1') plays at (row, col) (0-based); empty list when illegal."""
    n = len(board)
    if board[row][col] != "*":
        return []
    other = "1" if player == "0" else "0"
    flips = []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            line, r, c = [], row + dr, col + dc
            while 0 <= r < n and 0 <= c < n and board[r][c] == other:
                line.append((r, c))
                r, c = r + dr, c + dc
            if line and 0 <= r < n and 0 <= c < n and board[r][c] == player:
                flips.extend(line)
    return flips


def play_reversi(board, moves):
    """Apply moves [(player, row, col)] (1-based coordinates); returns the new board as a list of rows."""
    board = [list(row) for row in board]
    for player, row, col in moves:
        flips = reversi_flips(board, row - 1, col - 1, player)
        if not flips:
            raise ValueError(f"illegal move {player} at {(row, col)}")
        board[row - 1][col - 1] = player
        for r, c in flips:
            board[r][c] = player
    return board


def _start_board(n: int) -> list[list[str]]:
    board = [["*"] * n for _ in range(n)]
    m = n // 2
    board[m - 1][m - 1] = board[m][m] = "1"
    board[m - 1][m] = board[m][m - 1] = "0"
    return board


def _random_game(rng: random.Random, n: int, n_plies: int) -> list[tuple[str, int, int]] | None:
    """A random legal game of n_plies moves from the start (black '0' first, passes allowed); None if it
    ends early."""
    board, player, moves = _start_board(n), "0", []
    while len(moves) < n_plies:
        legal = [(r, c) for r in range(n) for c in range(n) if reversi_flips(board, r, c, player)]
        if not legal:
            player = "1" if player == "0" else "0"
            if not any(reversi_flips(board, r, c, player) for r in range(n) for c in range(n)):
                return None
            continue
        r, c = rng.choice(legal)
        moves.append((player, r + 1, c + 1))
        board = play_reversi(board, [moves[-1]])
        player = "1" if player == "0" else "0"
    return moves


class Reversi(ProceduralTask):
    """Given a mid-game Reversi board and the next moves, write down the resulting board."""

    name = "reversi"
    defaults = {"sizes": [6, 8], "min_pre": 4, "max_pre": 12, "n_moves": 3}
    harder = {"sizes": [8, 10], "min_pre": 10, "max_pre": 24, "n_moves": 6}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        while True:
            n = rng.choice(list(p["sizes"]))
            pre = rng.randint(p["min_pre"], p["max_pre"])
            game = _random_game(rng, n, pre + p["n_moves"])
            if game is not None:
                break
        before = play_reversi(_start_board(n), game[:pre])
        moves = game[pre:]
        after = play_reversi(before, moves)
        names = {"0": "Black (0)", "1": "White (1)"}
        listing = "\n".join(f"Move {i}: {names[pl]} places a piece at ({r}, {c})."
                            for i, (pl, r, c) in enumerate(moves, 1))
        question = (
            f"There is a game similar to Reversi on a grid of size {n}x{n}. Black pieces are written 0, "
            "white pieces 1 and empty cells *.\nRules:\n1. A player places one piece of their colour on an "
            "empty cell.\n2. After placing it, every straight line (row, column or diagonal) that runs from "
            "the new piece over one or more consecutive opponent pieces and ends at another piece of the "
            "player's colour is flipped: all those opponent pieces change to the player's colour.\n"
            "Coordinates (a, b) mean row a and column b, both counted from 1 at the top-left corner.\n\n"
            f"The current board is:\n" + "\n".join("".join(row) for row in before) + "\n\n"
            f"Then these moves are played, in order:\n{listing}\n\nWrite down the board after these moves, "
            f"row by row from the top, every cell separated by a comma. For example, an empty {n}x{n} board "
            f"is <<<{','.join(['*'] * (n * n))}>>>.")
        answer = ",".join(v for row in after for v in row)
        meta = {"board": ["".join(r) for r in before], "moves": [list(m) for m in moves], "solution": answer}
        return question, answer, meta

    def _score(self, answer: str, item: TaskItem) -> float:
        expected = item.meta["solution"].split(",")
        toks = answer_tokens(answer, limit=4 * len(expected) + 200)
        n = len(item.meta["board"])
        if toks is not None and len(toks) == n and all(len(t) == n for t in toks):
            toks = [ch for row in toks for ch in row]  # rows written as "**01**" strings
        return float(toks == expected)

    def solve(self, item: TaskItem) -> str:
        call = (f"board = {item.meta['board']!r}\nmoves = {item.meta['moves']!r}\nfinal = "
                "play_reversi(board, moves)\nprint(','.join(v for row in final for v in row))")
        return program(reversi_flips, play_reversi, call=call)


TASKS = [Reversi]
