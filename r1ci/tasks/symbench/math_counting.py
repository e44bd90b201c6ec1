"""math_counting_probability: MATH-style counting and probability questions, generated from templates.

Each template has a generator (random parameters -> question text) and a solver (parameters -> exact
integer or Fraction, by enumeration or dynamic programming). The reference answer is the solver's output;
the verifier compares values exactly with the safe parser in `_exact`, so 3/8, 0.375 and \\frac{3}{8} all
match; a decimal within 0.1% of a non-integer answer (0.3333 for 1/3) matches too, a count must be exact.
Bigger parameters (the `scale` knob) put the count far beyond hand calculation.
"""

from __future__ import annotations

import random
from typing import Callable

from r1ci.tasks.symbench._common import ProceduralTask
from r1ci.tasks.symbench._exact import TemplatedExactTask

FORMAT = ("Give the exact answer as an integer or a fraction in lowest terms (for example <<<7/16>>>). A "
          "decimal within 0.1% of a fractional answer is also accepted (for example <<<0.4375>>> or "
          "<<<0.0007716>>> for 1/1296); a count must be exact.")


# ------------------------------------------------------------------------------------------------ solvers
def dice_probability(p):
    """P(condition on the sum of k fair dice), by convolving the distribution one die at a time."""
    from fractions import Fraction

    ways = {0: 1}
    for _ in range(p["k"]):
        nxt = {}
        for total, w in ways.items():
            for face in range(1, p["sides"] + 1):
                nxt[total + face] = nxt.get(total + face, 0) + w
        ways = nxt

    def ok(s):
        if p["cond"] == "eq":
            return s == p["target"]
        if p["cond"] == "ge":
            return s >= p["target"]
        if p["cond"] == "div":
            return s % p["target"] == 0
        return s > 1 and all(s % d for d in range(2, int(s ** 0.5) + 1))  # prime

    return Fraction(sum(w for s, w in ways.items() if ok(s)), p["sides"] ** p["k"])


def urn_probability(p):
    """P(condition) when drawing k balls without replacement, summing over colour counts."""
    from fractions import Fraction
    from itertools import product
    from math import comb

    colours = list(p["balls"])
    total, favourable = comb(sum(p["balls"].values()), p["k"]), 0
    for counts in product(*(range(p["balls"][c] + 1) for c in colours)):
        if sum(counts) != p["k"]:
            continue
        got = dict(zip(colours, counts))
        if p["cond"] == "exactly":
            hit = got[p["colour"]] == p["j"]
        elif p["cond"] == "at_least":
            hit = got[p["colour"]] >= p["j"]
        elif p["cond"] == "one_of_each":
            hit = all(got[c] >= 1 for c in colours)
        else:  # all the same colour
            hit = max(counts) == p["k"]
        if hit:
            ways = 1
            for c in colours:
                ways *= comb(p["balls"][c], got[c])
            favourable += ways
    return Fraction(favourable, total)


def count_no_adjacent_repeats(p):
    """Distinct arrangements of the word's letters with no two equal letters side by side (memoised)."""
    from collections import Counter
    from functools import lru_cache

    letters = sorted(Counter(p["word"]).items())
    names = [ch for ch, _ in letters]

    @lru_cache(maxsize=None)
    def count(remaining, last):
        if sum(remaining) == 0:
            return 1
        total = 0
        for i, left in enumerate(remaining):
            if left and names[i] != last:
                total += count(remaining[:i] + (left - 1,) + remaining[i + 1:], names[i])
        return total

    return count(tuple(n for _, n in letters), "")


def count_committees(p):
    """Committees of size k with at least j women, never containing both Mr. Smith and Ms. Jones."""
    from math import comb

    m, w, k, j = p["men"], p["women"], p["k"], p["j"]
    total = 0
    for women in range(j, k + 1):
        men = k - women
        all_ways = comb(w, women) * comb(m, men)
        both = comb(w - 1, women - 1) * comb(m - 1, men - 1) if women >= 1 and men >= 1 else 0
        total += all_ways - both
    return total


def count_divisible(p):
    """#{1 <= n <= N : (a | n or b | n) and not c | n}, by inclusion-exclusion with lcm."""
    from math import lcm

    N, a, b, c = p["N"], p["a"], p["b"], p["c"]

    def multiples(d):
        return N // d

    a_or_b = multiples(a) + multiples(b) - multiples(lcm(a, b))
    a_or_b_and_c = multiples(lcm(a, c)) + multiples(lcm(b, c)) - multiples(lcm(a, b, c))
    return a_or_b - a_or_b_and_c


def count_lattice_paths(p):
    """Right/up paths from (0, 0) to (W, H) that avoid the blocked points (dynamic programming)."""
    W, H = p["W"], p["H"]
    blocked = {tuple(q) for q in p["blocked"]}
    ways = [[0] * (H + 1) for _ in range(W + 1)]
    for x in range(W + 1):
        for y in range(H + 1):
            if (x, y) in blocked:
                continue
            if x == y == 0:
                ways[x][y] = 1
            else:
                ways[x][y] = (ways[x - 1][y] if x else 0) + (ways[x][y - 1] if y else 0)
    return ways[W][H]


def coin_run_probability(p):
    """P(no run of r or more heads in n fair flips): DP over the length of the current head run."""
    from fractions import Fraction

    state = [1] + [0] * (p["r"] - 1)  # state[i]: sequences ending in exactly i heads (i < r)
    for _ in range(p["n"]):
        new = [0] * p["r"]
        new[0] = sum(state)  # tails
        for i in range(p["r"] - 1):
            new[i + 1] = state[i]  # heads extends the run
        state = new
    return Fraction(sum(state), 2 ** p["n"])


def count_bounded_distributions(p):
    """Ways to put N identical balls in k distinct boxes, each holding between lo and hi balls."""
    ways = [1] + [0] * p["N"]
    for _ in range(p["k"]):
        new = [0] * (p["N"] + 1)
        for total, w in enumerate(ways):
            if w:
                for put in range(p["lo"], p["hi"] + 1):
                    if total + put <= p["N"]:
                        new[total + put] += w
        ways = new
    return ways[p["N"]]


def count_digit_sums(p):
    """d-digit positive integers (no leading zero) with digit sum S, optionally only even ones."""
    ways = {0: 1}
    for pos in range(p["d"]):
        first, last = pos == 0, pos == p["d"] - 1
        digits = [x for x in range(10) if not (first and x == 0) and not (last and p["even"] and x % 2)]
        nxt = {}
        for s, w in ways.items():
            for x in digits:
                if s + x <= p["S"]:
                    nxt[s + x] = nxt.get(s + x, 0) + w
        ways = nxt
    return ways.get(p["S"], 0)


def card_probability(p):
    """P(exactly j hearts and at least one ace among k cards from a 52-card deck)."""
    from fractions import Fraction
    from math import comb

    # card kinds: ace of hearts 1, other hearts 12, other aces 3, the rest 36
    favourable = 0
    for ah in range(2):
        for h in range(13):
            for a in range(4):
                rest = p["k"] - ah - h - a
                if rest < 0 or ah + h != p["j"] or ah + a == 0:
                    continue
                favourable += comb(1, ah) * comb(12, h) * comb(3, a) * comb(36, rest)
    return Fraction(favourable, comb(52, p["k"]))


# ---------------------------------------------------------------------------------------------- templates
def _dice(rng: random.Random, scale: int):
    if scale == 1:
        k, sides = rng.randint(3, 4), rng.randint(6, 8)
    else:
        k, sides = rng.randint(5, 7), rng.randint(8, 12)
    cond = rng.choice(["eq", "ge", "div", "prime"])
    spread = (k * sides - k) // 4
    target = {"eq": rng.randint(k + spread, k * sides - spread),
              "ge": rng.randint(k * (sides + 1) // 2, k * sides - 2),
              "div": rng.randint(4, 9), "prime": 0}[cond]
    what = {"eq": f"the sum of the numbers rolled is exactly {target}",
            "ge": f"the sum of the numbers rolled is at least {target}",
            "div": f"the sum of the numbers rolled is divisible by {target}",
            "prime": "the sum of the numbers rolled is a prime number"}[cond]
    q = (f"{k} fair {sides}-sided dice (faces numbered 1 to {sides}) are rolled. What is the probability "
         f"that {what}?")
    return q, {"k": k, "sides": sides, "cond": cond, "target": target}


def _urn(rng: random.Random, scale: int):
    lo, hi, klo, khi = (3, 8, 3, 5) if scale == 1 else (8, 20, 5, 9)
    balls = {c: rng.randint(lo, hi) for c in ("red", "blue", "green")}
    k = rng.randint(klo, khi)
    cond, colour = rng.choice(["exactly", "at_least", "one_of_each", "all_same"]), rng.choice(list(balls))
    j = 0
    if cond in ("exactly", "at_least"):
        j = rng.randint(1, min(k, balls[colour]))
    what = {"exactly": f"exactly {j} of them are {colour}", "at_least": f"at least {j} of them are {colour}",
            "one_of_each": "at least one ball of each colour is drawn",
            "all_same": "all the drawn balls have the same colour"}[cond]
    q = (f"A bag contains {balls['red']} red, {balls['blue']} blue and {balls['green']} green balls. {k} "
         f"balls are drawn at random without replacement. What is the probability that {what}?")
    return q, {"balls": balls, "k": k, "cond": cond, "colour": colour, "j": j}


def _word(rng: random.Random, scale: int):
    length = rng.randint(7, 9) if scale == 1 else rng.randint(11, 14)
    pool = rng.sample("ABCDEGLMNOPRST", rng.randint(3, 5) if scale == 1 else rng.randint(4, 6))
    letters = pool + [rng.choice(pool) for _ in range(length - len(pool))]
    rng.shuffle(letters)
    word = "".join(letters)
    q = (f"How many distinct arrangements of the letters of the string {word} have no two identical letters "
         "next to each other? (Arrangements that differ only by swapping identical letters count once.)")
    return q, {"word": word}


def _committee(rng: random.Random, scale: int):
    lo, hi = (5, 9) if scale == 1 else (12, 25)
    men, women = rng.randint(lo, hi), rng.randint(lo, hi)
    k = rng.randint(4, 6) if scale == 1 else rng.randint(7, 10)
    j = rng.randint(1, k - 2)
    q = (f"A club has {men} men and {women} women, including Mr. Smith and Ms. Jones. In how many ways can a "
         f"committee of {k} people be chosen so that it has at least {j} women and does not contain both Mr. "
         "Smith and Ms. Jones?")
    return q, {"men": men, "women": women, "k": k, "j": j}


def _divisible(rng: random.Random, scale: int):
    N = rng.randint(500, 5000) if scale == 1 else rng.randint(10 ** 6, 10 ** 9)
    a, b, c = rng.sample(range(2, 16 if scale == 1 else 40), 3)
    q = (f"How many integers n with 1 <= n <= {N} are divisible by {a} or by {b} (or both), but are not "
         f"divisible by {c}?")
    return q, {"N": N, "a": a, "b": b, "c": c}


def _lattice(rng: random.Random, scale: int):
    if scale == 1:
        W, H = rng.randint(5, 8), rng.randint(4, 7)
    else:
        W, H = rng.randint(12, 18), rng.randint(10, 16)
    n_blocked = rng.randint(2, 3) if scale == 1 else rng.randint(4, 8)
    inner = [(x, y) for x in range(W + 1) for y in range(H + 1) if (x, y) not in ((0, 0), (W, H))]
    blocked = sorted(rng.sample(inner, n_blocked))
    pts = ", ".join(f"({x}, {y})" for x, y in blocked)
    q = (f"A path on the integer grid goes from (0, 0) to ({W}, {H}) using unit steps that each go either "
         "one unit right (x + 1) or one unit up (y + 1). How many such paths never pass through any of the "
         f"points {pts}?")
    return q, {"W": W, "H": H, "blocked": [list(b) for b in blocked]}


def _coins(rng: random.Random, scale: int):
    n, r = (rng.randint(8, 12), rng.randint(3, 4)) if scale == 1 else (rng.randint(20, 40), rng.randint(4, 6))
    q = (f"A fair coin is flipped {n} times. What is the probability that the sequence of outcomes never "
         f"contains {r} or more heads in a row?")
    return q, {"n": n, "r": r}


def _boxes(rng: random.Random, scale: int):
    k = rng.randint(3, 5) if scale == 1 else rng.randint(6, 9)
    lo = rng.randint(0, 2)
    hi = lo + rng.randint(3, 6) if scale == 1 else lo + rng.randint(6, 12)
    N = rng.randint(k * lo + 2, (k * lo + k * hi) // 2 + 1)
    q = (f"In how many ways can {N} identical balls be placed into {k} distinct boxes so that every box gets "
         f"at least {lo} and at most {hi} balls?")
    return q, {"N": N, "k": k, "lo": lo, "hi": hi}


def _digits(rng: random.Random, scale: int):
    d = rng.randint(4, 5) if scale == 1 else rng.randint(8, 12)
    S, even = rng.randint(d + 2, 9 * d // 2), rng.random() < 0.5
    kind = "even positive integers" if even else "positive integers"
    q = f"How many {d}-digit {kind} (no leading zero) have digits that add up to {S}?"
    return q, {"d": d, "S": S, "even": even}


def _cards(rng: random.Random, scale: int):
    k = rng.randint(3, 5) if scale == 1 else rng.randint(6, 9)
    j = rng.randint(1, min(3, k))
    q = (f"{k} cards are dealt at random from a standard 52-card deck (4 suits of 13 ranks, one ace per "
         f"suit). What is the probability that exactly {j} of them are hearts and at least one of them is an "
         "ace?")
    return q, {"k": k, "j": j}


TEMPLATES: dict[str, tuple[Callable, Callable]] = {
    "dice": (_dice, dice_probability), "urn": (_urn, urn_probability),
    "word": (_word, count_no_adjacent_repeats), "committee": (_committee, count_committees),
    "divisible": (_divisible, count_divisible), "lattice": (_lattice, count_lattice_paths),
    "coins": (_coins, coin_run_probability), "boxes": (_boxes, count_bounded_distributions),
    "digits": (_digits, count_digit_sums), "cards": (_cards, card_probability),
}


class MathCountingProbability(TemplatedExactTask, ProceduralTask):
    """Counting and probability questions with exact integer or fraction answers."""

    name = "math_counting_probability"
    defaults = {"scale": 1, "templates": sorted(TEMPLATES)}
    harder = {"scale": 2, "templates": sorted(TEMPLATES)}
    TEMPLATES = TEMPLATES
    FORMAT = FORMAT
    SOLVER_HELPERS = ()


TASKS = [MathCountingProbability]
