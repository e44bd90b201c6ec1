"""math_geometry: MATH-style geometry questions with exact answers (fractions, square roots, pi).

Templates cover coordinates (shoelace areas, distances, point-line distance), triangles from sides
(Heron, inradius, circumcircle), angles, regular polygons and solids. Every answer has the form
q * sqrt(r) * pi^e with rational q, square-free r and e in {0, 1}; solvers compute it with Fractions and an
integer square-root split (no sympy, so they run fast anywhere) and print it as e.g. 3*sqrt(2)/2 or 12*pi.
The verifier accepts any equal exact form, or a decimal within 0.1% of a non-integer value (see `_exact`).
"""

from __future__ import annotations

import math
import random
from typing import Callable

from r1ci.tasks.symbench._common import ProceduralTask
from r1ci.tasks.symbench._exact import TemplatedExactTask

FORMAT = ("Give the exact value in simplest form, using sqrt(...) for square roots and pi for π where needed "
          "(for example <<<3*sqrt(2)/2>>>, <<<12*pi>>> or <<<7/3>>>). A decimal within 0.1% of a non-integer "
          "exact value is also accepted (for example <<<2.1213>>> for 3*sqrt(2)/2); an integer answer must "
          "be exact.")


# ------------------------------------------------------------------------------------ exact-value helpers
def sqrt_fraction(x):
    """sqrt(x) for a rational x >= 0, as (q, r) with sqrt(x) = q * sqrt(r), q rational and r square-free."""
    from fractions import Fraction

    x = Fraction(x)
    n, q, d = x.numerator * x.denominator, 1, 2  # sqrt(a/b) = sqrt(a*b) / b
    while d * d <= n:
        while n % (d * d) == 0:
            n //= d * d
            q *= d
        d += 1
    return Fraction(q, x.denominator), n


def format_exact(q, r=1, pi=False):
    """Text for q * sqrt(r) * pi (pi optional), e.g. 3*sqrt(2)/2, -sqrt(3), 12*pi, 9*sqrt(3)*pi/4."""
    from fractions import Fraction

    q = Fraction(q)
    if q == 0:
        return "0"
    factors = [f"sqrt({r})"] if r != 1 else []
    if pi:
        factors.append("pi")
    num = abs(q.numerator)
    parts = ([str(num)] if num != 1 or not factors else []) + factors
    text = "*".join(parts)
    if q.denominator != 1:
        text += f"/{q.denominator}"
    return ("-" if q < 0 else "") + text


# ------------------------------------------------------------------------------------------------ solvers
def polygon_area(p):
    """Shoelace formula over the vertices in order."""
    from fractions import Fraction

    pts = p["points"]
    twice = sum(pts[i][0] * pts[(i + 1) % len(pts)][1] - pts[(i + 1) % len(pts)][0] * pts[i][1]
                for i in range(len(pts)))
    return format_exact(Fraction(abs(twice), 2))


def point_distance(p):
    """Euclidean distance between two integer points (2D or 3D)."""
    squared = sum((a - b) ** 2 for a, b in zip(p["A"], p["B"]))
    return format_exact(*sqrt_fraction(squared))


def triangle_from_sides(p):
    """Area (Heron), inradius (area / s) or circumcircle area (pi R^2, R = abc / 4K) from the three sides."""
    from fractions import Fraction

    a, b, c = p["sides"]
    s = Fraction(a + b + c, 2)
    area_sq = s * (s - a) * (s - b) * (s - c)  # Heron: K^2
    if p["ask"] == "area":
        return format_exact(*sqrt_fraction(area_sq))
    if p["ask"] == "inradius":
        return format_exact(*sqrt_fraction(area_sq / (s * s)))
    return format_exact(Fraction(a * a * b * b * c * c) / (16 * area_sq), pi=True)  # pi * R^2


def point_line_distance(p):
    """|a*x0 + b*y0 + c| / sqrt(a^2 + b^2) for the line a*x + b*y + c = 0."""
    from fractions import Fraction

    a, b, c = p["line"]
    x0, y0 = p["point"]
    return format_exact(*sqrt_fraction(Fraction((a * x0 + b * y0 + c) ** 2, a * a + b * b)))


def sas_triangle(p):
    """Sides a, b with included angle C (degrees): area ab sin(C) / 2, or the third side (law of cosines)."""
    from fractions import Fraction

    a, b, angle = p["a"], p["b"], p["angle"]
    cos_c = {60: Fraction(1, 2), 90: Fraction(0), 120: Fraction(-1, 2)}.get(angle)
    if p["ask"] == "side":
        return format_exact(*sqrt_fraction(a * a + b * b - 2 * a * b * cos_c))
    sin_sq = {30: Fraction(1, 4), 45: Fraction(1, 2), 60: Fraction(3, 4), 90: Fraction(1),
              120: Fraction(3, 4), 135: Fraction(1, 2), 150: Fraction(1, 4)}[angle]  # sin^2 C
    return format_exact(*sqrt_fraction(Fraction(a * a * b * b) * sin_sq / 4))


def regular_polygon(p):
    """From the number of diagonals n(n-3)/2, find n, then the interior angle 180(n-2)/n in degrees."""
    from fractions import Fraction

    n = 3
    while n * (n - 3) // 2 < p["diagonals"]:
        n += 1
    return format_exact(Fraction(180 * (n - 2), n))


def regular_area(p):
    """Area of an equilateral triangle (s^2 sqrt3 / 4) or a regular hexagon (3 sqrt3 s^2 / 2) of side s."""
    from fractions import Fraction

    s2 = p["side"] ** 2
    return format_exact(Fraction(s2, 4) if p["shape"] == "triangle" else Fraction(3 * s2, 2), 3)


def cone(p):
    """Volume (pi r^2 h / 3) or total surface area (pi r^2 + pi r l, l = slant height) of a right cone."""
    from fractions import Fraction

    r, h = p["r"], p["h"]
    if p["ask"] == "volume":
        return format_exact(Fraction(r * r * h, 3), pi=True)
    q, rad = sqrt_fraction(r * r + h * h)  # slant height l = q*sqrt(rad)
    if rad == 1:
        return format_exact(r * r + r * q, pi=True)
    return f"{format_exact(r * r, pi=True)} + {format_exact(r * q, rad, pi=True)}"


def box_sphere(p):
    """Sphere through the corners of an a x b x c box (2R = diagonal): surface 4 pi R^2, volume 4/3 pi R^3."""
    from fractions import Fraction

    a, b, c = p["dims"]
    r_sq = Fraction(a * a + b * b + c * c, 4)
    if p["ask"] == "surface":
        return format_exact(4 * r_sq, pi=True)
    q, rad = sqrt_fraction(r_sq)  # R = q*sqrt(rad); R^3 = q^3 rad sqrt(rad)
    return format_exact(Fraction(4, 3) * q ** 3 * rad, rad, pi=True)


def chord_length(p):
    """A chord at distance d from the centre of a circle of radius R has length 2 sqrt(R^2 - d^2)."""
    q, rad = sqrt_fraction(4 * (p["R"] ** 2 - p["d"] ** 2))
    return format_exact(q, rad)


# ---------------------------------------------------------------------------------------------- templates
def _pt(p: list[int]) -> str:
    return "(" + ", ".join(map(str, p)) + ")"


def _triangle_coords(rng: random.Random, scale: int):
    lim = 12 if scale == 1 else 150
    while True:
        pts = [[rng.randint(-lim, lim), rng.randint(-lim, lim)] for _ in range(3)]
        (x1, y1), (x2, y2), (x3, y3) = pts
        if (x2 - x1) * (y3 - y1) - (x3 - x1) * (y2 - y1) != 0:
            break
    q = f"What is the area of the triangle with vertices {', '.join(_pt(p) for p in pts)}?"
    return q, {"points": pts}


def _polygon(rng: random.Random, scale: int):
    k, lim = (rng.randint(5, 6), 10) if scale == 1 else (rng.randint(7, 10), 80)
    while True:
        pts = {(rng.randint(-lim, lim), rng.randint(-lim, lim)) for _ in range(k)}
        if len(pts) < k or (0, 0) in pts:
            continue
        ordered = sorted(pts, key=lambda q: math.atan2(q[1], q[0]))  # star-shaped around the origin
        angles = [math.atan2(y, x) for x, y in ordered]
        gaps = [(angles[(i + 1) % k] - angles[i]) % (2 * math.pi) for i in range(k)]
        if min(gaps) > 1e-9 and max(gaps) < math.pi - 1e-9:
            break
    pts_l = [list(p) for p in ordered]
    q = (f"A polygon has the vertices {', '.join(_pt(p) for p in pts_l)}, listed in order around its "
         "boundary (its sides join consecutive vertices and the last vertex to the first). What is its area?")
    return q, {"points": pts_l}


def _distance(rng: random.Random, scale: int):
    dim, lim = (2, 15) if scale == 1 else (3, 200)
    A, B = [rng.randint(-lim, lim) for _ in range(dim)], [rng.randint(-lim, lim) for _ in range(dim)]
    space = "plane" if dim == 2 else "space"
    return f"What is the distance between the points {_pt(A)} and {_pt(B)} in the {space}?", {"A": A, "B": B}


def _sides(rng: random.Random, scale: int):
    lim = 15 if scale == 1 else 120
    while True:
        a, b, c = sorted(rng.randint(2, lim) for _ in range(3))
        if a + b > c:
            break
    ask = rng.choice(["area", "inradius", "circumcircle"])
    what = {"area": "What is the area of the triangle?",
            "inradius": "What is the radius of its inscribed circle?",
            "circumcircle": "What is the area of the circle that passes through its three vertices?"}[ask]
    return f"A triangle has sides of lengths {a}, {b} and {c}. {what}", {"sides": [a, b, c], "ask": ask}


def _point_line(rng: random.Random, scale: int):
    lim = 9 if scale == 1 else 60
    a, b = rng.choice([x for x in range(-lim, lim + 1) if x]), rng.randint(-lim, lim)
    c, point = rng.randint(-lim * 3, lim * 3), [rng.randint(-lim, lim), rng.randint(-lim, lim)]
    if a * point[0] + b * point[1] + c == 0:
        c += 1
    line = f"{a}*x {'+' if b >= 0 else '-'} {abs(b)}*y {'+' if c >= 0 else '-'} {abs(c)} = 0"
    return (f"What is the distance from the point {_pt(point)} to the line {line}?",
            {"line": [a, b, c], "point": point})


def _sas(rng: random.Random, scale: int):
    lim = 12 if scale == 1 else 150
    a, b = rng.randint(2, lim), rng.randint(2, lim)
    ask = rng.choice(["area", "side"])
    angle = rng.choice([60, 90, 120] if ask == "side" else [30, 45, 60, 90, 120, 135, 150])
    what = "What is the area of the triangle?" if ask == "area" else "What is the length of the third side?"
    q = (f"In a triangle, two sides have lengths {a} and {b}, and the angle between them is {angle} degrees. "
         f"{what}")
    return q, {"a": a, "b": b, "angle": angle, "ask": ask}


def _regular_polygon(rng: random.Random, scale: int):
    n = rng.randint(5, 20) if scale == 1 else rng.randint(20, 400)
    d = n * (n - 3) // 2
    q = (f"A convex regular polygon has exactly {d} diagonals. What is the measure, in degrees, of each of "
         "its interior angles?")
    return q, {"diagonals": d}


def _regular_area(rng: random.Random, scale: int):
    side, shape = rng.randint(2, 20 if scale == 1 else 500), rng.choice(["triangle", "hexagon"])
    name = "an equilateral triangle" if shape == "triangle" else "a regular hexagon"
    return f"What is the area of {name} with side length {side}?", {"side": side, "shape": shape}


def _cone(rng: random.Random, scale: int):
    lim = 12 if scale == 1 else 120
    r, h, ask = rng.randint(1, lim), rng.randint(1, lim), rng.choice(["volume", "surface"])
    what = "volume" if ask == "volume" else "total surface area (base included)"
    q = f"A right circular cone has base radius {r} and height {h}. What is its {what}?"
    return q, {"r": r, "h": h, "ask": ask}


def _box_sphere(rng: random.Random, scale: int):
    lim = 10 if scale == 1 else 90
    dims, ask = [rng.randint(1, lim) for _ in range(3)], rng.choice(["surface", "volume"])
    what = "surface area" if ask == "surface" else "volume"
    q = (f"A rectangular box measures {dims[0]} by {dims[1]} by {dims[2]}. A sphere passes through all eight "
         f"vertices of the box. What is the {what} of the sphere?")
    return q, {"dims": dims, "ask": ask}


def _chord(rng: random.Random, scale: int):
    R = rng.randint(3, 20 if scale == 1 else 400)
    d = rng.randint(1, R - 1)
    return (f"In a circle of radius {R}, a chord lies at distance {d} from the centre. How long is the "
            "chord?",
            {"R": R, "d": d})


TEMPLATES: dict[str, tuple[Callable, Callable]] = {
    "triangle_coords": (_triangle_coords, polygon_area), "polygon": (_polygon, polygon_area),
    "distance": (_distance, point_distance), "sides": (_sides, triangle_from_sides),
    "point_line": (_point_line, point_line_distance), "sas": (_sas, sas_triangle),
    "regular_polygon": (_regular_polygon, regular_polygon), "regular_area": (_regular_area, regular_area),
    "cone": (_cone, cone), "box_sphere": (_box_sphere, box_sphere), "chord": (_chord, chord_length),
}


class MathGeometry(TemplatedExactTask, ProceduralTask):
    """Geometry questions with exact answers such as 3*sqrt(2)/2, 12*pi or 135."""

    name = "math_geometry"
    defaults = {"scale": 1, "templates": sorted(TEMPLATES)}
    harder = {"scale": 2, "templates": sorted(TEMPLATES)}
    TEMPLATES = TEMPLATES
    FORMAT = FORMAT
    SOLVER_HELPERS = (sqrt_fraction, format_exact)


TASKS = [MathGeometry]
