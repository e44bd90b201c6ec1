"""Blocksworld (SymBench): rearrange lettered blocks among a fixed set of stacks to reach a goal layout.

Any legal plan that ends exactly in the goal scores 1.0: the verifier replays the moves (only a top block
moves, only between existing stacks) instead of comparing with the generated plan.
"""

from __future__ import annotations

import heapq
import re

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import MAX_PLAN_CHARS, ProceduralTask, bounded_answer, program_with_imports

_MOVE_RE = re.compile(r"move\s+([A-Za-z])\s+from\s+(?:stack\s*)?(\d{1,3})\s+to\s+(?:stack\s*)?(\d{1,3})",
                      re.IGNORECASE)
_MAX_MOVES = 400


def parse_moves(answer: str) -> list[tuple[str, int, int]] | None:
    """'Move B from stack2 to stack3' lines -> [(B, 2, 3)]; None if anything but moves and separators."""
    s = bounded_answer(answer, MAX_PLAN_CHARS)
    if not s:
        return None
    moves = [(m.group(1).upper(), int(m.group(2)), int(m.group(3))) for m in _MOVE_RE.finditer(s)]
    leftover = _MOVE_RE.sub(" ", s)
    if not moves or len(moves) > _MAX_MOVES or re.sub(r"[\s,;.'\"\[\]]+", "", leftover):
        return None
    return moves


def replay(stacks: list[list[str]], moves: list[tuple[str, int, int]]) -> list[list[str]] | None:
    """The stacks after the moves (1-based stack numbers), or None at the first illegal move."""
    stacks = [s[:] for s in stacks]
    for block, src, dst in moves:
        if not (1 <= src <= len(stacks) and 1 <= dst <= len(stacks)) or src == dst:
            return None
        if not stacks[src - 1] or stacks[src - 1][-1] != block:
            return None
        stacks[dst - 1].append(stacks[src - 1].pop())
    return stacks


def plan_blocks(initial, goal):
    """Greedy best-first search: prefer states where more blocks already sit on their final support."""
    start = tuple(tuple(s) for s in initial)
    target = tuple(tuple(s) for s in goal)
    total = sum(len(s) for s in goal)

    def misplaced(state):
        good = 0
        for have, want in zip(state, target):
            k = 0
            while k < len(have) and k < len(want) and have[k] == want[k]:
                k += 1
            good += k
        return total - good

    parent = {start: None}
    frontier = [(misplaced(start), 0, start)]
    counter = 0
    while frontier:
        _, _, state = heapq.heappop(frontier)
        if state == target:
            break
        for i, src in enumerate(state):
            if not src:
                continue
            for j in range(len(state)):
                if j == i:
                    continue
                nxt = list(state)
                nxt[i] = src[:-1]
                nxt[j] = state[j] + (src[-1],)
                nxt = tuple(nxt)
                if nxt not in parent:
                    parent[nxt] = (state, f"Move {src[-1]} from stack{i + 1} to stack{j + 1}")
                    counter += 1
                    heapq.heappush(frontier, (misplaced(nxt), counter, nxt))
    plan = []
    state = target
    while parent[state] is not None:
        state, move = parent[state]
        plan.append(move)
    return "\n".join(reversed(plan))


def _layout(stacks: list[list[str]]) -> str:
    return "\n".join(f"stack{i + 1}: {' '.join(s)}".rstrip() for i, s in enumerate(stacks))


class Blocksworld(ProceduralTask):
    """Move top blocks between stacks until the goal layout is reached."""

    name = "blocksworld"
    defaults = {"blocks": 6, "stacks": 4, "goal_stacks": 3}
    harder = {"blocks": 9, "stacks": 5, "goal_stacks": 3}

    def _make(self, rng, params):
        names = [chr(65 + i) for i in range(params["blocks"])]
        n, g = params["stacks"], params["goal_stacks"]
        while True:
            initial = [[] for _ in range(n)]
            for b in rng.sample(names, len(names)):
                initial[rng.randrange(n)].append(b)
            goal = [[] for _ in range(n)]
            for b in rng.sample(names, len(names)):
                goal[rng.randrange(g)].append(b)
            if initial != goal:
                break
        plan = plan_blocks(initial, goal)
        question = (
            f"Blocksworld Task:\n\nInitial State:\n{_layout(initial)}\n\nGoal State:\n{_layout(goal)}\n\n"
            "Please provide a series of moves to reach the goal state. You can only move one block at a "
            "time, and it must be the top block of its stack. From left to right in each stack is the order "
            "from the bottom to the top: in stack 'A B C D', A is the bottom block and D is the top block, "
            "so "
            "only D can be moved. You cannot create new stacks; you can only move blocks among the existing "
            "stacks (an empty stack can receive blocks). The goal must be matched exactly, including empty "
            "stacks.\nEach move should be in the format 'Move [block] from [source] to [destination]', one "
            "move per line, for example:\n<<<Move B from stack2 to stack1\nMove A from stack1 to stack3>>>"
        )
        return question, plan, {"initial": initial, "goal": goal}

    def _score(self, answer: str, item: TaskItem) -> float:
        moves = parse_moves(answer)
        if moves is None:
            return 0.0
        return float(replay(item.meta["initial"], moves) == item.meta["goal"])

    def solve(self, item: TaskItem) -> str:
        call = f"print(plan_blocks({item.meta['initial']!r}, {item.meta['goal']!r}))"
        return program_with_imports("import heapq", plan_blocks, call=call)


TASKS = [Blocksworld]
