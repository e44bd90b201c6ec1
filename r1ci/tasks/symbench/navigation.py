"""Navigation planning: gridworld (discrete) and path_plan (continuous waypoints) (SymBench).

Plans are replayed by the verifier (adjacency, obstacles, goals, segment/box intersections), so every valid
plan scores 1.0. Gridworld also bounds the number of moves by the optimum, found by BFS + Held-Karp.
"""

from __future__ import annotations

import collections
import heapq
import json
import math
import re

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import (
    MAX_PLAN_CHARS,
    ProceduralTask,
    bounded_answer,
    literal_or_none,
    nesting_depth,
    program_with_imports,
)

# ----------------------------------------------------------------------------------------------------------
# gridworld
# ----------------------------------------------------------------------------------------------------------


def plan_gridworld(rows, cols, obstacles, goals, start):
    """Shortest walk from `start` visiting every goal: BFS distances, then Held-Karp over goal orders.

    Cells are 'C{row},{col}' (1-based). Returns the walk as a list of cell names.
    """
    blocked = set(obstacles)

    def neighbours(cell):
        r, c = map(int, cell[1:].split(","))
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            name = f"C{nr},{nc}"
            if 1 <= nr <= rows and 1 <= nc <= cols and name not in blocked:
                yield name

    def bfs(src):
        prev = {src: None}
        queue = collections.deque([src])
        while queue:
            cell = queue.popleft()
            for nxt in neighbours(cell):
                if nxt not in prev:
                    prev[nxt] = cell
                    queue.append(nxt)
        return prev

    points = [start] + list(goals)
    trees = [bfs(p) for p in points]

    def path(i, j):
        walk, cell = [], points[j]
        while cell is not None:
            walk.append(cell)
            cell = trees[i][cell]
        return walk[::-1]

    dist = [[len(path(i, j)) - 1 for j in range(len(points))] for i in range(len(points))]
    k = len(goals)
    best = {(1 << g, g): (dist[0][g + 1], None) for g in range(k)}
    for mask in range(1, 1 << k):
        for last in range(k):
            if (mask, last) not in best:
                continue
            cost = best[(mask, last)][0]
            for nxt in range(k):
                if mask & (1 << nxt):
                    continue
                key = (mask | (1 << nxt), nxt)
                new = cost + dist[last + 1][nxt + 1]
                if key not in best or new < best[key][0]:
                    best[key] = (new, last)
    full = (1 << k) - 1
    last = min(range(k), key=lambda g: best[(full, g)][0])
    order, mask = [], full
    while last is not None:
        order.append(last)
        prev = best[(mask, last)][1]
        mask ^= 1 << last
        last = prev
    walk, here = [start], 0
    for g in reversed(order):
        walk += path(here, g + 1)[1:]
        here = g + 1
    return walk


def _reachable(rows, cols, obstacles, start) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        r, c = map(int, todo.pop()[1:].split(","))
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            name = f"C{nr},{nc}"
            if 1 <= nr <= rows and 1 <= nc <= cols and name not in obstacles and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def parse_cell_list(answer: str, limit: int = 2000) -> list[str] | None:
    """A JSON-ish list of cell names like ["C1,1", "C2,1"] (spaces inside names are ignored)."""
    s = bounded_answer(answer, MAX_PLAN_CHARS)
    if not s or not s.startswith("[") or nesting_depth(s) > 2:
        return None
    try:
        value = json.loads(s)
    except json.JSONDecodeError:
        value = literal_or_none(s, max_depth=2)
    if not isinstance(value, list) or len(value) > limit or any(not isinstance(v, str) for v in value):
        return None
    cells = [re.sub(r"\s+", "", v).upper() for v in value]
    return cells if all(re.fullmatch(r"C\d{1,3},\d{1,3}", c) for c in cells) else None


class GridWorld(ProceduralTask):
    """Walk a robot through a grid with obstacles so that it visits every goal, in few enough moves."""

    name = "gridworld"
    defaults = {"rows": 6, "cols": 6, "goals": 6, "obstacles": 8, "slack": 0}
    harder = {"rows": 8, "cols": 9, "goals": 9, "obstacles": 16, "slack": 0}

    def _make(self, rng, params):
        rows, cols = params["rows"], params["cols"]
        cells = [f"C{r},{c}" for r in range(1, rows + 1) for c in range(1, cols + 1)]
        while True:
            rng.shuffle(cells)
            obstacles = sorted(cells[:params["obstacles"]])
            goals = cells[params["obstacles"]:params["obstacles"] + params["goals"]]
            start = cells[params["obstacles"] + params["goals"]]
            if set(goals) <= _reachable(rows, cols, set(obstacles), start):
                break
        walk = plan_gridworld(rows, cols, obstacles, goals, start)
        max_moves = len(walk) - 1 + params["slack"]
        question = (
            "You are given the following Gridworld planning problem:\n\n"
            f"Grid dimensions: {rows} x {cols} (cells C1,1 to C{rows},{cols}; 'Cr,c' is row r, column c)\n"
            f"Obstacles: {obstacles}\nGoals: {goals}\nInitial robot position: {start}\n\n"
            "Task:\n"
            f"- The robot starts at {start}; the first position in your list must be {start}.\n"
            "- At each step the robot moves to an adjacent cell (up, down, left or right; no diagonals), "
            "staying inside the grid.\n"
            "- The robot must NOT enter any obstacle cell.\n"
            "- The robot must visit every goal at least once, in any order.\n"
            f"- The plan may use at most {max_moves} moves (that is, at most {max_moves + 1} positions).\n"
            "- Output the plan as a JSON list of robot positions, from the initial position to the final "
            "position, enclosed in <<< >>>, for example <<<[\"C1,1\", \"C2,1\", \"C2,2\"]>>>."
        )
        meta = {"rows": rows, "cols": cols, "obstacles": obstacles, "goals": goals, "start": start,
                "max_moves": max_moves}
        return question, json.dumps(walk), meta

    def _score(self, answer: str, item: TaskItem) -> float:
        m = item.meta
        walk = parse_cell_list(answer, limit=m["max_moves"] + 1)
        if not walk or walk[0] != m["start"]:
            return 0.0
        blocked = set(m["obstacles"])
        for a, b in zip(walk, walk[1:]):
            (ra, ca), (rb, cb) = (map(int, x[1:].split(",")) for x in (a, b))
            inside = 1 <= rb <= m["rows"] and 1 <= cb <= m["cols"]
            if abs(ra - rb) + abs(ca - cb) != 1 or b in blocked or not inside:
                return 0.0
        return float(set(m["goals"]) <= set(walk))

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"walk = plan_gridworld({m['rows']}, {m['cols']}, {m['obstacles']!r}, {m['goals']!r}, "
                f"{m['start']!r})\nprint(json.dumps(walk))")
        return program_with_imports("import collections\nimport json", plan_gridworld, call=call)


# ----------------------------------------------------------------------------------------------------------
# path_plan
# ----------------------------------------------------------------------------------------------------------

_WALLS = [(-1.5, -1.4, -1.5, 1.5), (1.4, 1.5, -1.5, 1.5), (-1.5, 1.5, -1.5, -1.4), (-1.5, 1.5, 1.4, 1.5)]
_PATH_COLORS = ["yellow", "red", "green", "blue", "pink", "purple", "orange", "brown", "gray", "cyan"]


def segment_box_interval(p, q, box):
    """Parameters [t0, t1] of segment p->q inside the closed box (x0, x1, y0, y1), or None (Liang-Barsky)."""
    x0, x1, y0, y1 = box
    dx, dy = q[0] - p[0], q[1] - p[1]
    t0, t1 = 0.0, 1.0
    for pk, qk in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if pk == 0:
            if qk < 0:
                return None
        else:
            t = qk / pk
            if pk < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
    return (t0, t1) if t0 <= t1 else None


def plan_path(boxes, start, end, visit, avoid):
    """Shortest route through the centre of each box to visit, in order: Dijkstra on the visibility graph
    whose nodes are the corners of the avoided boxes grown by 0.02 (edges checked against boxes grown by
    0.01, so rounding never touches a box). The room inside the walls is convex, so only corners outside it
    are dropped."""
    limit = 1.39  # the room inside the walls is the square |x|, |y| < 1.4

    def grown(b, m):
        return (b[0] - m, b[1] + m, b[2] - m, b[3] + m)

    blocks = [grown(boxes[a], 0.01) for a in avoid]
    corners = []
    for a in avoid:
        x0, x1, y0, y1 = grown(boxes[a], 0.02)
        corners += [(x, y) for x in (x0, x1) for y in (y0, y1) if max(abs(x), abs(y)) < limit]

    def clear(p, q):
        return all(segment_box_interval(p, q, b) is None for b in blocks)

    def leg(p, q):
        nodes = [p, q] + corners
        dist, prev, heap = {0: 0.0}, {0: None}, [(0.0, 0)]
        while heap:
            d, i = heapq.heappop(heap)
            if i == 1:
                break
            if d > dist[i]:
                continue
            for j in range(1, len(nodes)):
                nd = d + math.dist(nodes[i], nodes[j])
                if j != i and nd < dist.get(j, float("inf")) and clear(nodes[i], nodes[j]):
                    dist[j], prev[j] = nd, i
                    heapq.heappush(heap, (nd, j))
        if 1 not in prev:
            return None
        path, i = [], 1
        while i != 0:
            path.append(nodes[i])
            i = prev[i]
        return path[::-1]

    centres = [((boxes[v][0] + boxes[v][1]) / 2, (boxes[v][2] + boxes[v][3]) / 2) for v in visit]
    stops = [tuple(start)] + centres + [tuple(end)]
    route = [tuple(start)]
    for p, q in zip(stops, stops[1:]):
        part = leg(p, q)
        if part is None:
            return None
        route += part
    return [(round(x, 3), round(y, 3)) for x, y in route]


def check_trajectory(meta, pts) -> bool:
    """Start/end match, no segment touches a wall or an avoided box, visit boxes entered in order."""
    if len(pts) < 2 or any(abs(a - b) > 1e-6 for a, b in zip(pts[0] + pts[-1], meta["start"] + meta["end"])):
        return False
    boxes = meta["boxes"]
    obstacles = [boxes[a] for a in meta["avoid"]] + [list(w) for w in _WALLS]
    segments = list(zip(pts, pts[1:]))
    if any(segment_box_interval(p, q, b) is not None for p, q in segments for b in obstacles):
        return False
    seg, t = 0, 0.0  # progress along the trajectory: segment index and parameter
    for name in meta["visit"]:
        for k in range(seg, len(segments)):
            span = segment_box_interval(*segments[k], boxes[name])
            if span is not None and (k > seg or span[1] >= t):
                seg, t = k, max(span[0], t) if k == seg else span[0]
                break
        else:
            return False
    return True


def parse_waypoints(answer: str, limit: int = 500) -> list[list[float]] | None:
    s = bounded_answer(answer, MAX_PLAN_CHARS)
    if not s or not s.startswith("["):
        return None
    value = literal_or_none(s, max_depth=3)
    if not isinstance(value, (list, tuple)) or len(value) > limit:
        return None
    pts = []
    for p in value:
        if not (isinstance(p, (list, tuple)) and len(p) == 2
                and all(type(v) in (int, float) and math.isfinite(v) and abs(v) < 100 for v in p)):
            return None
        pts.append([float(p[0]), float(p[1])])
    return pts


def _random_boxes(rng, count: int) -> list[tuple[float, float, float, float]]:
    boxes: list[tuple[float, float, float, float]] = []
    while len(boxes) < count:
        w, h = rng.uniform(0.25, 0.6), rng.uniform(0.25, 0.6)
        x0, y0 = rng.uniform(-1.3, 1.3 - w), rng.uniform(-1.3, 1.3 - h)
        box = tuple(round(v, 2) + 0.0 for v in (x0, x0 + w, y0, y0 + h))
        if all(box[0] > b[1] + 0.12 or b[0] > box[1] + 0.12 or box[2] > b[3] + 0.12 or b[2] > box[3] + 0.12
               for b in boxes):
            boxes.append(box)
    return boxes


def _free_spot(rng, boxes) -> tuple[float, float]:
    while True:
        x, y = round(rng.uniform(-1.3, 1.3), 2) + 0.0, round(rng.uniform(-1.3, 1.3), 2) + 0.0
        if all(not (b[0] - 0.1 <= x <= b[1] + 0.1 and b[2] - 0.1 <= y <= b[3] + 0.1) for b in boxes):
            return x, y


class PathPlan(ProceduralTask):
    """Plan straight-line waypoints in a walled room: enter some colored boxes in order, avoid others."""

    name = "path_plan"
    defaults = {"boxes": 7, "visit": 2, "avoid": 2}
    harder = {"boxes": 9, "visit": 3, "avoid": 4}

    def _make(self, rng, params):
        while True:
            colors = rng.sample(_PATH_COLORS, params["boxes"])
            boxes = dict(zip(colors, (list(b) for b in _random_boxes(rng, params["boxes"]))))
            start, end = _free_spot(rng, boxes.values()), _free_spot(rng, boxes.values())
            picked = rng.sample(colors, params["visit"] + params["avoid"])
            visit, avoid = picked[:params["visit"]], picked[params["visit"]:]
            route = plan_path(boxes, start, end, visit, avoid)
            meta = {"boxes": boxes, "start": list(start), "end": list(end), "visit": visit, "avoid": avoid}
            if route is not None and check_trajectory(meta, [list(p) for p in route]):
                break
        walls = ", ".join(str(w) for w in _WALLS)
        box_text = "; ".join(f"the {c} box {tuple(b)}" for c, b in boxes.items())
        instruction = ("Navigate into the " + ", then into the ".join(f"{v} box" for v in visit)
                       + " (in this order). Never enter the " + " or the ".join(f"{a} box" for a in avoid)
                       + " at any time. Entering the other boxes is allowed.")
        question = (
            "I am a mobile robot and I hope you can help me plan a trajectory that fulfills a navigation "
            "instruction. Each box is an axis-aligned rectangle described as (x_start, x_end, y_start, "
            "y_end): its boundaries in x and in y.\n\n"
            f"First, there are four black walls at {walls}. Then the boxes are: {box_text}.\n\n"
            "The trajectory must never touch a wall. The starting position of the robot is "
            f"{tuple(start)} and the ending position is {tuple(end)}.\n\n"
            f"The instruction is: '{instruction}' The robot must fulfill the instruction and stop at the "
            "end position.\n\nReturn the trajectory as a list of waypoints [(x0, y0), (x1, y1), ...] whose "
            "first "
            "waypoint is the starting position and last waypoint is the ending position. The trajectory is "
            "the polyline through consecutive waypoints, so the straight segments between them must also "
            "fulfill the instruction. Entering a box means the trajectory intersects it, including its "
            "boundary; a trajectory that must avoid a box may not even touch its boundary.\n"
            "For example: <<<[(-1.3, -1.3), (-0.85, 0.125), (0.45, -0.75), (1.3, 1.3)]>>>"
        )
        return question, str(route), meta

    def _score(self, answer: str, item: TaskItem) -> float:
        pts = parse_waypoints(answer)
        return float(pts is not None and check_trajectory(item.meta, pts))

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"route = plan_path({m['boxes']!r}, {tuple(m['start'])!r}, {tuple(m['end'])!r}, "
                f"{m['visit']!r}, {m['avoid']!r})\nprint(route)")
        return program_with_imports("import heapq\nimport math", segment_box_interval, plan_path, call=call)


TASKS = [GridWorld, PathPlan]
