"""Deduction from clues: constrained_linear_arrangement, cryptanalysis, logical_equation (SymBench).

Each instance is generated with more clues until exactly one solution remains (checked by exhaustive
search), so the verifier can check the answer against the clues and the reference says the same thing.
Solvers enumerate or backtrack over the candidates, which is what code does well and prose does badly.
"""

from __future__ import annotations

import itertools
import string

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import (
    ProceduralTask,
    answer_tokens,
    parse_int_list,
    program,
    program_with_imports,
)

# ----------------------------------------------------------------------------------------------------------
# constrained_linear_arrangement
# ----------------------------------------------------------------------------------------------------------

_GAME_RULES = {
    "elements": (
        "Both players, A and B, each hold five cards representing the five elements: Wood (A), Fire (B), "
        "Earth (C), Metal (D) and Water (E). Each card can only be used once. Both players play one card "
        "simultaneously each round and the referee announces the result.\nRules:\n"
        "1. When your card generates the opponent's card, you lose; when the opponent's card generates "
        "yours, you win.\n"
        "2. When your card overcomes the opponent's card, you win; when the opponent's card overcomes yours, "
        "you lose.\n3. Identical cards give a draw.\n"
        "Generation: Wood A generates Fire B, Fire B generates Earth C, Earth C generates Metal D, Metal D "
        "generates Water E, Water E generates Wood A.\n"
        "Overcoming: Wood A overcomes Earth C, Earth C overcomes Water E, Water E overcomes Fire B, Fire B "
        "overcomes Metal D, Metal D overcomes Wood A."),
    "stick": (
        "Both players, A and B, play \"Stick, Tiger, Chicken\". Each holds four cards: Stick (A), Tiger (B), "
        "Chicken (C) and Worm (D). Each card can only be used once. Both players play one card "
        "simultaneously each round and the referee announces the result.\nRules:\n"
        "1. Stick beats Tiger, Tiger eats Chicken, Chicken eats Worm, Worm beats Stick.\n"
        "2. Any other pair of cards (the same card, Stick vs Chicken, Tiger vs Worm) is a draw."),
    "animal": (
        "Both players, A and B, play a game like Jungle Chess. Each holds 8 animal pieces, ranked from "
        "largest to smallest: Elephant (A), Lion (B), Tiger (C), Leopard (D), Wolf (E), Dog (F), Cat (G) and "
        "Mouse (H). Each piece can only be used once. Both players reveal one piece simultaneously each "
        "round and the referee announces the result.\nRules:\n"
        "1. The larger piece captures the smaller one: its owner wins the round.\n"
        "2. Identical pieces capture each other: a draw.\n"
        "3. Exception: the Mouse captures the Elephant (the Elephant cannot capture the Mouse)."),
}
_PIECES = {"elements": "ABCDE", "stick": "ABCD", "animal": "ABCDEFGH"}


def round_result(game, mine, theirs):
    """'win', 'loss' or 'draw' for the player who played `mine`."""
    if mine == theirs:
        return "draw"
    if game == "elements":
        step = ("ABCDE".index(theirs) - "ABCDE".index(mine)) % 5  # 1: I generate, 2: I overcome
        return {1: "loss", 2: "win", 3: "loss", 4: "win"}[step]
    if game == "stick":
        step = ("ABCD".index(theirs) - "ABCD".index(mine)) % 4
        return {1: "win", 3: "loss"}.get(step, "draw")
    if {mine, theirs} == {"A", "H"}:
        return "win" if mine == "H" else "loss"
    return "win" if mine < theirs else "loss"  # A is the largest animal


def deduce_opponent(game, pieces, mine, results, limit=2):
    """Opponent sequences (each piece at most once) consistent with every round's result, up to `limit`:
    backtracking over the rounds, fewest candidates first."""
    options = [[t for t in pieces if round_result(game, m, t) == r] for m, r in zip(mine, results)]
    order = sorted(range(len(mine)), key=lambda i: len(options[i]))
    chosen, found = [None] * len(mine), []

    def search(k, used):
        if len(found) >= limit:
            return
        if k == len(order):
            found.append("".join(chosen))
            return
        i = order[k]
        for t in options[i]:
            if t not in used:
                chosen[i] = t
                search(k + 1, used | {t})

    search(0, frozenset())
    return found


class ConstrainedLinearArrangement(ProceduralTask):
    """Deduce the opponent's cards from your own cards and each round's result."""

    name = "constrained_linear_arrangement"
    defaults = {"games": ("elements", "stick", "animal"), "max_rounds": 8}
    harder = {"games": ("animal",), "max_rounds": 8}

    def _make(self, rng, params):
        while True:
            game = rng.choice(list(params["games"]))
            pieces = _PIECES[game]
            rounds = min(len(pieces), params["max_rounds"])
            mine = "".join(rng.sample(pieces, rounds))
            theirs = "".join(rng.sample(pieces, rounds))
            results = [round_result(game, m, t) for m, t in zip(mine, theirs)]
            if deduce_opponent(game, pieces, mine, results) == [theirs]:
                break
        lines = "\n".join(f"Round {i + 1}: {m}, {r}." for i, (m, r) in enumerate(zip(mine, results)))
        question = (
            f"{_GAME_RULES[game]}\n\nYou are one of the players. Deduce which card your opponent played in "
            f"each round from the cards you played and the result of each round (results are from your "
            f"point of view).\n\nRounds (your card, result):\n{lines}\n\n"
            f"Answer with the opponent's cards in round order as a list of letters, for example <<<A,B,C>>>."
        )
        meta = {"game": game, "mine": mine, "results": results, "theirs": theirs}
        return question, ",".join(theirs), meta

    def _score(self, answer: str, item: TaskItem) -> float:
        m = item.meta
        tokens = answer_tokens(answer, limit=200)
        if tokens and len(tokens) == 1 and len(tokens[0]) == len(m["mine"]):
            tokens = list(tokens[0])
        if not tokens or len(tokens) != len(m["mine"]):
            return 0.0
        seq = "".join(t.upper() for t in tokens)
        pieces = _PIECES[m["game"]]
        if len(seq) != len(m["mine"]) or len(set(seq)) != len(seq) or any(c not in pieces for c in seq):
            return 0.0
        return float(all(round_result(m["game"], a, b) == r for a, b, r in zip(m["mine"], seq, m["results"])))

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        args = f"{m['game']!r}, {_PIECES[m['game']]!r}, {m['mine']!r}, {m['results']!r}"
        call = f"found = deduce_opponent({args})\nprint(','.join(found[0]))"
        return program(round_result, deduce_opponent, call=call)


# ----------------------------------------------------------------------------------------------------------
# cryptanalysis
# ----------------------------------------------------------------------------------------------------------

def lock_counts(secret, guess):
    """(right place, wrong place, too low, too high, other wrong) for one half of a guess; characters
    compare in alphabet order ('0' < '9', 'A' < 'Z')."""
    right = moved = lo = hi = other = 0
    smin, smax = min(secret), max(secret)
    for g, s in zip(guess, secret):
        if g == s:
            right += 1
        elif g in secret:
            moved += 1
        elif g < smin:
            lo += 1
        elif g > smax:
            hi += 1
        else:
            other += 1
    return right, moved, lo, hi, other


def feedback_text(counts, k, kind):
    """The referee's sentence for one half of a guess (kind 'number' or 'letter') from `lock_counts`."""
    words = {1: "one", 2: "two", 3: "three", 4: "four"}
    low, high = ("too small", "too large") if kind == "number" else \
        ("too early in the alphabet", "too late in the alphabet")

    def count(n):
        if n == k == 2:
            return f"both {kind}s are"
        if n == k and k > 2:
            return f"all {words[n]} {kind}s are"
        return f"one {kind} is" if n == 1 else f"{words[n]} {kind}s are"

    right, moved = counts[0], counts[1]
    tails = [" correct and in the correct position" + ("s" if right > 1 else ""),
             " correct but in the wrong position" + ("s" if moved > 1 else ""),
             " incorrect and " + low, " incorrect and " + high, " incorrect"]
    return "; ".join(count(n) + tail for n, tail in zip(counts, tails) if n)


def crack_lock(guesses, k):
    """Every code consistent with all feedback sentences. The digits and the letters are independent, so
    each half is filtered on its own; a sentence depends only on the counts, so texts are cached."""
    texts = {}

    def says(secret, guess, kind):
        key = (lock_counts(secret, guess), kind)
        if key not in texts:
            texts[key] = feedback_text(key[0], k, kind)
        return texts[key]

    digits = ["".join(p) for p in itertools.permutations("0123456789", k)]
    letters = ["".join(p) for p in itertools.permutations("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k)]
    for guess, num_fb, let_fb in guesses:
        digits = [d for d in digits if says(d, guess[:k], "number") == num_fb]
        letters = [x for x in letters if says(x, guess[k:], "letter") == let_fb]
    return [d + x for d in digits for x in letters]


class Cryptanalysis(ProceduralTask):
    """Find a combination lock's code (distinct digits, then distinct letters) from guesses and feedback."""

    name = "cryptanalysis"
    defaults = {"size": 2}
    harder = {"size": 3}

    def _make(self, rng, params):
        k = params["size"]
        secret = "".join(rng.sample(string.digits, k)) + "".join(rng.sample(string.ascii_uppercase, k))
        digits = ["".join(p) for p in itertools.permutations(string.digits, k)]
        letters = ["".join(p) for p in itertools.permutations(string.ascii_uppercase, k)]
        guesses = []
        while len(digits) > 1 or len(letters) > 1:
            guess = "".join(rng.sample(string.digits, k)) + "".join(rng.sample(string.ascii_uppercase, k))
            if guess == secret or any(g[0] == guess for g in guesses):
                continue
            num_fb, let_fb = lock_counts(secret[:k], guess[:k]), lock_counts(secret[k:], guess[k:])
            new_d = [d for d in digits if lock_counts(d, guess[:k]) == num_fb]
            new_l = [x for x in letters if lock_counts(x, guess[k:]) == let_fb]
            if len(new_d) == len(digits) and len(new_l) == len(letters):
                continue  # an uninformative guess only lengthens the puzzle
            digits, letters = new_d, new_l
            guesses.append([guess, feedback_text(num_fb, k, "number"), feedback_text(let_fb, k, "letter")])
        conditions = "\n".join(f"{i + 1}. Guess: {g}, Feedback: {a}; {b}."
                               for i, (g, a, b) in enumerate(guesses))
        example = ", ".join(f'"{c}"' for c in "3719"[:k] + "KQTW"[:k])
        question = (
            f"Please deduce the correct password based on the following {len(guesses)} known conditions.\n"
            f"A certain combination lock consists of {k} numbers (digits) followed by {k} letters; neither "
            f"the numbers nor the letters repeat. Each guess is written as its {k} numbers then its {k} "
            f"letters. 'Too small'/'too large' means smaller/larger than every number of the password; 'too "
            f"early'/'too late in the alphabet' means before/after every letter of the password; a plain "
            "'incorrect' means not in the password and neither too small nor too large (too early nor too "
            "late).\n"
            f"{conditions}\n"
            f"Please provide your answer as a list of {2 * k} strings, the numbers first then the letters, "
            f"for example <<<[{example}]>>>."
        )
        meta = {"size": k, "secret": secret, "guesses": guesses}
        return question, "[" + ", ".join(f'"{c}"' for c in secret) + "]", meta

    def _score(self, answer: str, item: TaskItem) -> float:
        secret = item.meta["secret"]
        tokens = answer_tokens(answer, limit=200)
        if tokens and len(tokens) == 1:
            tokens = list(tokens[0])
        return float(bool(tokens) and "".join(tokens).upper() == secret and len(tokens) == len(secret))

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = (f"found = crack_lock({m['guesses']!r}, {m['size']})\n"
                "print('[' + ', '.join(repr(c) for c in found[0]) + ']')")
        return program_with_imports("import itertools", lock_counts, feedback_text, crack_lock, call=call)


# ----------------------------------------------------------------------------------------------------------
# logical_equation
# ----------------------------------------------------------------------------------------------------------

def holds(kind, a, b, k):
    """Whether values a (first letter) and b (second letter) satisfy one clue; `k` is its constant
    (tenths of the factor for 'mul')."""
    if kind == "eq":
        return a == b
    if kind == "gt":
        return a > b
    if kind == "sum":
        return a + b == k
    if kind == "diff":
        return a - b == k
    return 10 * a == k * b  # mul: a = (k/10) * b


def assign_letters(letters, values, clues, limit=2):
    """Backtracking with arc consistency: each letter keeps the set of values still possible; every clue
    between two open letters keeps only values with a partner value, and a value whose copies are used up
    leaves all domains. Most constrained letter first. Up to `limit` solutions, as value lists."""
    pool = {}
    for v in values:
        pool[v] = pool.get(v, 0) + 1

    def consistent(domains, chosen):
        changed = True
        while changed:
            changed = False
            for kind, x, y, k in clues:
                dx = {chosen[x]} if x in chosen else domains[x]
                dy = {chosen[y]} if y in chosen else domains[y]
                if x not in chosen:
                    keep = {a for a in dx if any(holds(kind, a, b, k) for b in dy)}
                    if keep != dx:
                        domains[x], changed = keep, True
                        if not keep:
                            return False
                if y not in chosen:
                    dx = {chosen[x]} if x in chosen else domains[x]
                    keep = {b for b in dy if any(holds(kind, a, b, k) for a in dx)}
                    if keep != dy:
                        domains[y], changed = keep, True
                        if not keep:
                            return False
        return True

    found = []

    def search(domains, chosen):
        if len(found) >= limit:
            return
        if len(chosen) == len(letters):
            found.append([chosen[x] for x in letters])
            return
        letter = min(domains, key=lambda x: len(domains[x]))
        for v in sorted(domains[letter]):
            pool[v] -= 1
            chosen[letter] = v
            rest = {x: (d - {v} if pool[v] == 0 else set(d)) for x, d in domains.items() if x != letter}
            if all(rest.values()) and consistent(rest, chosen):
                search(rest, chosen)
            del chosen[letter]
            pool[v] += 1

    start = {x: set(pool) for x in letters}
    if consistent(start, {}):
        search(start, {})
    return found


def _clue_text(kind: str, x: str, y: str, k: int) -> str:
    if kind == "eq":
        return f"{x} = {y}"
    if kind == "gt":
        return f"{x} > {y}"
    if kind == "sum":
        return f"{x} + {y} = {k}"
    if kind == "diff":
        return f"{x} - {y} = {k}"
    return f"{x} = {k / 10:g}{y}"


class LogicalEquation(ProceduralTask):
    """Letters stand for given numbers (each used once); recover them from equations and inequalities."""

    name = "logical_equation"
    defaults = {"letters": 9, "max_value": 60}
    harder = {"letters": 13, "max_value": 120}

    def _clue(self, rng, sol: dict[str, int], clues: list) -> list:
        x, y = rng.sample(sorted(sol), 2)
        if rng.random() < 0.5:  # favour letters no clue mentions yet, so every letter gets tied in
            x = min(sorted(sol), key=lambda z: (sum(z in c[1:3] for c in clues), rng.random()))
            y = rng.choice([z for z in sorted(sol) if z != x])
        a, b = sol[x], sol[y]
        kind = rng.choices(["sum", "diff", "mul", "gt", "eq"], weights=[4, 4, 3, 1, 2])[0]
        if kind == "mul":
            k = next((k for k in range(11, 50) if 10 * a == k * b), None)
            return ["mul", x, y, k] if k else ["diff", x, y, a - b]
        if kind == "eq":
            return ["eq", x, y, 0] if a == b else ["sum", x, y, a + b]
        if kind == "gt":
            return ["gt", x, y, 0] if a > b else ["gt", y, x, 0] if b > a else ["eq", x, y, 0]
        return [kind, x, y, a + b if kind == "sum" else a - b]

    def _make(self, rng, params):
        n = params["letters"]
        letters = [chr(65 + i) for i in range(n)]
        values = sorted(rng.sample(range(1, params["max_value"] + 1), n - 2))
        values += rng.sample(values, 2)  # a few repeats, as in the source data, make '=' clues possible
        values.sort()
        shuffled = values[:]
        rng.shuffle(shuffled)
        sol = dict(zip(letters, shuffled))
        clues: list = []
        while len(assign_letters(letters, values, clues)) > 1:
            clue = self._clue(rng, sol, clues)
            if clue not in clues:
                clues.append(clue)
        text = "\n".join(f"{i + 1}. {_clue_text(*c)}" for i, c in enumerate(clues))
        question = (
            f"There are {n} letters {', '.join(letters)}, each representing one of the numbers "
            f"{', '.join(map(str, values))} (each number in this list is used by exactly one letter). "
            f"The letters satisfy the following system of equations and inequalities "
            f"('{letters[0]} = 2.5{letters[1]}' means {letters[0]} is 2.5 times {letters[1]}):\n{text}\n\n"
            "Return the values in alphabetical order of the letters, starting with A, as a list: for "
            "example "
            f"<<<[1, 2, 3]>>> would mean A = 1, B = 2 and C = 3."
        )
        meta = {"letters": letters, "values": values, "clues": clues}
        return question, str([sol[x] for x in letters]), meta

    def _score(self, answer: str, item: TaskItem) -> float:
        m = item.meta
        got = parse_int_list(answer, len(m["letters"]), max_digits=6)
        if got is None or sorted(got) != sorted(m["values"]):
            return 0.0
        sol = dict(zip(m["letters"], got))
        return float(all(holds(kind, sol[x], sol[y], k) for kind, x, y, k in m["clues"]))

    def solve(self, item: TaskItem) -> str:
        m = item.meta
        call = f"print(assign_letters({m['letters']!r}, {m['values']!r}, {m['clues']!r}, limit=1)[0])"
        return program(holds, assign_letters, call=call)


TASKS = [ConstrainedLinearArrangement, Cryptanalysis, LogicalEquation]
