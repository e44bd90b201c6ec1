"""Multi-agent box planning: boxlift and boxnet (SymBench).

Both are checked by simulation, so every valid plan within the stated step budget scores 1.0. The budget
is the best plan our own heuristic planners find (the oracle solver runs the same planners), which keeps
"lift everything" from being trivially satisfiable with one box per step.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import (
    MAX_PLAN_CHARS,
    ProceduralTask,
    bounded_answer,
    literal_or_none,
    nesting_depth,
    program,
    program_with_imports,
)

# ----------------------------------------------------------------------------------------------------------
# boxlift
# ----------------------------------------------------------------------------------------------------------


def plan_boxlift(boxes, lifters):
    """Best of a few greedy step-by-step planners (heaviest box first; several ways to pick lifters)."""
    def pick_first(need, avail):
        used, total = [], 0
        for i in avail:
            used.append(i)
            total += lifters[i]
            if total >= need:
                return used
        return None

    def pick_tight(need, avail):
        # Largest lifters until one more can close the gap, then the smallest lifter that closes it.
        order = sorted(avail, key=lambda i: -lifters[i])
        used, total = [], 0
        for i in order:
            gap = need - total
            closers = [j for j in order if j not in used and lifters[j] >= gap]
            if closers:
                return used + [min(closers, key=lambda j: lifters[j])]
            used.append(i)
            total += lifters[i]
        return None

    def run(pick, box_order):
        remaining = sorted(boxes, key=box_order)
        steps = []
        while remaining:
            avail = list(range(len(lifters)))
            step, left = [], []
            for w in remaining:
                used = pick(w, avail) if avail else None
                if used is None:
                    left.append(w)
                    continue
                step.append((w, sorted(used)))
                avail = [i for i in avail if i not in used]
            if not step:
                return None
            steps.append(step)
            remaining = left
        return steps

    plans = [run(pick, order) for pick in (pick_first, pick_tight)
             for order in (lambda w: -w, lambda w: w)]
    best = min((p for p in plans if p is not None), key=len)
    return "\n".join(f"Step {k + 1}: {step}" for k, step in enumerate(best))


def parse_boxlift(answer: str) -> list[list[tuple[int, list[int]]]] | None:
    """'Step 1: [(50, [0, 2]), (30, [1])]' lines -> per-step assignments; None when malformed."""
    s = bounded_answer(answer, MAX_PLAN_CHARS)
    if not s:
        return None
    parts = re.split(r"step\s*\d{1,4}\s*:", s, flags=re.IGNORECASE)
    if parts[0].strip() or len(parts) < 2 or len(parts) > 201:
        return None
    steps = []
    for chunk in parts[1:]:
        value = literal_or_none(chunk.strip().rstrip(",;"), max_depth=4)
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list):
            value = [value]  # a single assignment without the surrounding list
        if not isinstance(value, (list, tuple)):
            return None
        step = []
        for a in value:
            if not (isinstance(a, (list, tuple)) and len(a) == 2 and type(a[0]) is int
                    and isinstance(a[1], (list, tuple)) and all(type(i) is int for i in a[1])):
                return None
            step.append((a[0], list(a[1])))
        steps.append(step)
    return steps


def check_boxlift(boxes, lifters, steps, max_steps) -> bool:
    remaining = Counter(boxes)
    if len(steps) > max_steps:
        return False
    for step in steps:
        used: set[int] = set()
        for weight, idx in step:
            if remaining[weight] <= 0 or not idx or len(set(idx)) != len(idx):
                return False
            if any(not 0 <= i < len(lifters) or i in used for i in idx):
                return False
            if sum(lifters[i] for i in idx) < weight:
                return False
            remaining[weight] -= 1
            used.update(idx)
    return sum(remaining.values()) == 0


class BoxLift(ProceduralTask):
    """Assign lifters (alone or combined) to boxes over several steps, within a step budget."""

    name = "boxlift"
    defaults = {"boxes": 15, "lifters": 4, "box_min": 20, "box_max": 200, "cap_min": 30, "cap_max": 120}
    harder = {"boxes": 25, "lifters": 6, "box_min": 40, "box_max": 400, "cap_min": 50, "cap_max": 200}

    def _make(self, rng, params):
        while True:
            boxes = [rng.randint(params["box_min"], params["box_max"]) for _ in range(params["boxes"])]
            lifters = [rng.randint(params["cap_min"], params["cap_max"]) for _ in range(params["lifters"])]
            if sum(lifters) >= max(boxes):
                break
        plan = plan_boxlift(boxes, lifters)
        max_steps = plan.count("Step")
        question = (
            f"Task: BoxLift\n\nYou are given a list of boxes with the following weights: {boxes}\n"
            f"And a list of lifters with the following maximum lifting capacities: {lifters}\n\n"
            "Your task is to assign the lifters to lift all the boxes in multiple steps, following these "
            "rules:\n"
            "1. Multiple boxes can be lifted in each step.\n"
            "2. Each lifter can only lift one box at a time.\n"
            "3. Each lifter can be used only once in each step.\n"
            "4. Multiple lifters can combine to lift one box if the box is too heavy for a single lifter "
            "(their capacities add up).\n"
            f"5. You need to lift all the boxes in at most {max_steps} steps.\n\n"
            "Give your solution in this format (lifter indices are 0-based):\n"
            "Step 1: [(Box weight, [Lifter indices]), (Box weight, [Lifter indices]), ...]\n"
            "Step 2: [(Box weight, [Lifter indices]), ...]\n...\n"
            "For example, <<<Step 1: [(50, [0, 2]), (30, [1]), (20, [3])]\nStep 2: [(40, [0, 1])]>>> means "
            "in Step 1 lifters 0 and 2 lift a box weighing 50, lifter 1 lifts a box weighing 30 and lifter 3 "
            "lifts a box weighing 20."
        )
        return question, plan, {"boxes": boxes, "lifters": lifters, "max_steps": max_steps}

    def _score(self, answer: str, item: TaskItem) -> float:
        steps = parse_boxlift(answer)
        m = item.meta
        return float(steps is not None and check_boxlift(m["boxes"], m["lifters"], steps, m["max_steps"]))

    def solve(self, item: TaskItem) -> str:
        call = f"print(plan_boxlift({item.meta['boxes']!r}, {item.meta['lifters']!r}))"
        return program(plan_boxlift, call=call)


# ----------------------------------------------------------------------------------------------------------
# boxnet
# ----------------------------------------------------------------------------------------------------------

_COLORS = ["blue", "red", "green", "purple", "orange", "yellow", "pink", "black"]
_AGENT_RE = re.compile(r"Agent\[\s*(\d{1,2}(?:\.\d{1,3})?)\s*,\s*(\d{1,2}(?:\.\d{1,3})?)\s*\]")
_ACTION_RE = re.compile(r"move\(\s*box_([a-z]{1,10})\s*,\s*(?:target_([a-z]{1,10})|"
                        r"square\[\s*(\d{1,2}(?:\.\d{1,3})?)\s*,\s*(\d{1,2}(?:\.\d{1,3})?)\s*\])\s*\)")


def plan_boxnet(rows, cols, boxes, targets):
    """Greedy parallel plan. Each step an agent matches a box lying on its target if it has one, else moves
    its box with the longest way to go one square toward its target (rows first). Every step brings some
    box closer or matches it, so this ends. Boxes/targets: color -> [row, col]."""
    where = {c: tuple(p) for c, p in boxes.items()}
    goal = {c: tuple(p) for c, p in targets.items()}

    def dist(color):
        return abs(where[color][0] - goal[color][0]) + abs(where[color][1] - goal[color][1])

    def sign(x):
        return (x > 0) - (x < 0)

    steps = []
    while where:
        plan = {}
        for color in sorted(where):
            if where[color] == goal[color] and where[color] not in plan:
                plan[where[color]] = (color, None)
        for color in sorted(where, key=lambda k: (-dist(k), k)):
            (r, c), (gr, gc) = where[color], goal[color]
            if (r, c) not in plan:
                plan[(r, c)] = (color, (r + sign(gr - r), c) if r != gr else (r, c + sign(gc - c)))
        step = {}
        for (r, c), (color, dest) in sorted(plan.items()):
            agent = f"Agent[{r + 0.5}, {c + 0.5}]"
            if dest is None:
                step[agent] = f"move(box_{color}, target_{color})"
                del where[color]
            else:
                step[agent] = f"move(box_{color}, square[{dest[0] + 0.5}, {dest[1] + 0.5}])"
                where[color] = dest
        steps.append(step)
    return json.dumps(steps)


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate agent in one step")
    return dict(pairs)


def _cell(x: str, y: str, rows: int, cols: int) -> tuple[int, int] | None:
    fx, fy = float(x) - 0.5, float(y) - 0.5
    if fx != int(fx) or fy != int(fy) or not (0 <= fx < rows and 0 <= fy < cols):
        return None
    return int(fx), int(fy)


def check_boxnet(meta, answer: str) -> bool:
    """Replay the plan step by step (all actions of a step act on the state at its start)."""
    s = bounded_answer(answer, MAX_PLAN_CHARS)
    if not s or not s.startswith("[") or nesting_depth(s) > 5:  # brackets inside the strings count too
        return False
    try:
        steps = json.loads(s, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError:
        steps = literal_or_none(s, max_depth=5)
    except ValueError:  # the same agent twice in one step
        return False
    rows, cols = meta["rows"], meta["cols"]
    if not isinstance(steps, list) or len(steps) > meta["max_steps"]:
        return False
    boxes = {c: tuple(p) for c, p in meta["boxes"].items()}
    targets = {c: tuple(p) for c, p in meta["targets"].items()}
    for step in steps:
        if not isinstance(step, dict):
            return False
        moved = {}
        for key, action in step.items():
            ka, act = _AGENT_RE.fullmatch(str(key).strip()), _ACTION_RE.fullmatch(str(action).strip())
            if not ka or not act:
                return False
            agent = _cell(ka.group(1), ka.group(2), rows, cols)
            color = act.group(1)
            if agent is None or boxes.get(color) != agent or color in moved:
                return False
            if act.group(2) is not None:
                if act.group(2) != color or targets[color] != agent:
                    return False
                moved[color] = None
            else:
                dest = _cell(act.group(3), act.group(4), rows, cols)
                if dest is None or abs(dest[0] - agent[0]) + abs(dest[1] - agent[1]) != 1:
                    return False
                moved[color] = dest
        for color, dest in moved.items():
            if dest is None:
                del boxes[color]
            else:
                boxes[color] = dest
    return not boxes


def _observations(rows, cols, boxes, targets) -> str:
    lines = []
    for r in range(rows):
        for c in range(cols):
            here = [f"box_{k}" for k, p in boxes.items() if tuple(p) == (r, c)]
            here += [f"target_{k}" for k, p in targets.items() if tuple(p) == (r, c)]
            actions = []
            for item in here:
                if not item.startswith("box_"):
                    continue
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    if 0 <= r + dr < rows and 0 <= c + dc < cols:
                        actions.append(f"move({item}, square[{r + dr + 0.5}, {c + dc + 0.5}])")
                if f"target_{item[4:]}" in here:
                    actions.append(f"move({item}, target_{item[4:]})")
            lines.append(f"Agent[{r + 0.5}, {c + 0.5}]: I am in square[{r + 0.5}, {c + 0.5}], "
                         f"I can observe {here}, I can do {actions}")
    return "\n".join(lines)


class BoxNet(ProceduralTask):
    """Agents fixed in grid squares pass colored boxes between neighbours onto same-colored targets."""

    name = "boxnet"
    defaults = {"rows": 2, "cols": 4, "colors": 4}
    harder = {"rows": 3, "cols": 4, "colors": 6}

    def _make(self, rng, params):
        rows, cols = params["rows"], params["cols"]
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        colors = _COLORS[:params["colors"]]
        boxes = {k: list(rng.choice(cells)) for k in colors}
        targets = {k: list(rng.choice(cells)) for k in colors}
        plan = plan_boxnet(rows, cols, boxes, targets)
        max_steps = len(json.loads(plan))
        question = (
            "You are a central planner directing agents in a grid-like field to move colored boxes to their "
            "color-coded targets. Each agent occupies one 1x1 square and can only interact with objects in "
            "its square. An agent can move a box in its square to an adjacent square (up, down, left, "
            "right), "
            "or, if the target of the same color is in its square, onto that target (the box and target are "
            "then both done and disappear). A square may contain several boxes and targets.\n\n"
            "Squares are identified by their center coordinates, e.g. square[0.5, 0.5] (first number: row, "
            "second: column). Actions are written move(box_color, destination), where destination is "
            "target_color or square[x, y] of an adjacent square.\n\n"
            "Rules for the action plan:\n"
            "1. Each step, each agent performs at most one action; all actions of a step happen at the same "
            "time, based on where the boxes are at the start of the step (a box moved into a square can be "
            "handled by that square's agent from the next step on).\n"
            "2. The key of an action is the agent's coordinates, \"Agent[x, y]\"; include an agent in a step "
            "only if it acts in that step.\n"
            f"3. All boxes must be matched to their targets within at most {max_steps} steps.\n\n"
            f"The field has {rows} row(s) and {cols} column(s). The current boxes, targets and agents are:\n"
            f"{_observations(rows, cols, boxes, targets)}\n\n"
            "Answer with a JSON list of steps, each a dictionary from agent to action, for example "
            "<<<[{\"Agent[0.5, 0.5]\": \"move(box_blue, square[0.5, 1.5])\", \"Agent[1.5, 0.5]\": "
            "\"move(box_red, target_red)\"}, {\"Agent[0.5, 1.5]\": \"move(box_blue, target_blue)\"}]>>>."
        )
        meta = {"rows": rows, "cols": cols, "boxes": boxes, "targets": targets, "max_steps": max_steps}
        return question, plan, meta

    def _score(self, answer: str, item: TaskItem) -> float:
        return float(check_boxnet(item.meta, answer))

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = f"print(plan_boxnet({m['rows']}, {m['cols']}, {m['boxes']!r}, {m['targets']!r}))"
        return program_with_imports("import json", plan_boxnet, call=call)


TASKS = [BoxLift, BoxNet]
