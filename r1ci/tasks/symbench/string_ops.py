"""String-processing tasks: statistical_counting, string_deletion_and_modification, string_insertion.

Each asks for many small, mechanical scans or rewrites of one string; one slip changes the answer, while
a few lines of code simulate the rules exactly.
"""

from __future__ import annotations

import random
from typing import Any

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, bounded_answer, parse_int, program


# ----------------------------------------------------------------------------------------------- solvers
def run_score(text, rules):
    """Sum of rule scores over maximal runs: a run of >= min_run copies of a rule's letter adds its score."""
    total, i = 0, 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        for letter, min_run, score in rules:
            if letter == text[i] and j - i >= min_run:
                total += score
        i = j
    return total


def apply_rewrite(s, rule):
    """Apply one rewrite rule to s; returns the new string, or None when the rule's condition fails."""
    kind, args = rule[0], rule[1:]
    if kind == "prefix_replace" and s.startswith(args[0]):
        return args[1] + s[len(args[0]):]
    if kind == "suffix_replace" and s.endswith(args[0]):
        return s[:len(s) - len(args[0])] + args[1]
    if kind == "prefix_move" and s.startswith(args[0]):
        return s[len(args[0]):] + args[1]
    if kind == "suffix_prepend" and s.endswith(args[0]):
        return args[2] + s[:len(s) - len(args[0])] + args[1]
    if kind == "contains_replace" and args[0] in s:
        return s.replace(args[0], args[1], 1)
    if kind == "even_count_append" and s.count(args[0]) > 0 and s.count(args[0]) % 2 == 0:
        return s + args[1]
    if kind == "long_remove_middle" and len(s) > args[0]:
        return s[:len(s) // 2] + s[len(s) // 2 + 1:]
    return None


def rewrite_until_stable(s, rules, max_steps=10_000):
    """Repeatedly apply the first applicable rule (in list order) until none applies; returns every state."""
    states = [s]
    for _ in range(max_steps):
        for rule in rules:
            new = apply_rewrite(states[-1], rule)
            if new is not None:
                states.append(new)
                break
        else:
            return states
    raise RuntimeError("no fixed point within max_steps")


def insert_after_patterns(s, rules):
    """Operation T: for every position of the original string where a rule's pattern starts, insert the rule's
    character right after that occurrence; positions are found on the original string, left to right."""
    inserts = {}
    for i in range(len(s)):
        for pattern, char in rules:
            if s.startswith(pattern, i):
                inserts.setdefault(i + len(pattern), []).append(char)
                break
    out = []
    for i, ch in enumerate(s):
        out.extend(inserts.get(i, []))
        out.append(ch)
    out.extend(inserts.get(len(s), []))
    return "".join(out)


# -------------------------------------------------------------------------------------- statistical_counting
class StatisticalCounting(ProceduralTask):
    """Score a long letter string by runs of consecutive equal letters."""

    name = "statistical_counting"
    defaults = {"min_len": 60, "max_len": 90, "n_letters": 5}
    harder = {"min_len": 180, "max_len": 260, "n_letters": 7}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        letters = "ABCDEFGHIJK"[:p["n_letters"]]
        rules = [[ch, rng.randint(2, 4), rng.randint(1, 9)] for ch in letters]
        length, text = rng.randint(p["min_len"], p["max_len"]), ""
        while len(text) < length:
            text += rng.choice(letters) * rng.choice([1, 1, 1, 2, 2, 3, 4, 5])
        text = text[:length]
        lines = "\n".join(f"{i}. Every run of {k} or more consecutive {ch}'s adds {sc} to the total score."
                          for i, (ch, k, sc) in enumerate(rules, 1))
        question = (
            f"The initial total score is 0. Given a string made of the letters {', '.join(letters)}, scan it "
            "from front to back. A run is a maximal block of consecutive equal letters (it cannot be "
            "extended to the left or right); each run counts once, under the rule for its "
            f"letter:\n\n{lines}\n\nWhat is the total score of the string {text}?\nReturn your answer in the "
            "format <<<number>>>, like <<<5>>> for a total score of 5.")
        value = run_score(text, rules)
        return question, str(value), {"text": text, "rules": rules, "value": value}

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, 40)
        return float(s is not None and parse_int(s, 12) == item.meta["value"])

    def solve(self, item: TaskItem) -> str:
        return program(run_score, call=f"print(run_score({item.meta['text']!r}, {item.meta['rules']!r}))")


# --------------------------------------------------------------------------- string_deletion_and_modification
def _random_piece(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice("abc") for _ in range(rng.randint(lo, hi)))


def _random_rule(rng: random.Random, kind: str) -> list:
    if kind in ("prefix_replace", "suffix_replace", "contains_replace"):
        pat = _random_piece(rng, 2, 3)
        return [kind, pat, _random_piece(rng, 0, len(pat))]
    if kind == "prefix_move":
        return [kind, _random_piece(rng, 2, 2), _random_piece(rng, 0, 2)]
    if kind == "suffix_prepend":
        return [kind, _random_piece(rng, 2, 2), _random_piece(rng, 0, 1), _random_piece(rng, 1, 1)]
    if kind == "even_count_append":
        return [kind, rng.choice("abc"), _random_piece(rng, 1, 2)]
    return [kind, rng.randint(12, 18)]


def describe_rule(rule: list) -> str:
    kind, a = rule[0], rule[1:]

    def q(x: str) -> str:
        return f"'{x}'"

    if kind == "prefix_replace":
        return f"If the string starts with {q(a[0])}, replace that prefix with {q(a[1])}." if a[1] else \
            f"If the string starts with {q(a[0])}, delete that prefix."
    if kind == "suffix_replace":
        return f"If the string ends with {q(a[0])}, replace that suffix with {q(a[1])}." if a[1] else \
            f"If the string ends with {q(a[0])}, delete that suffix."
    if kind == "prefix_move":
        tail = f" and append {q(a[1])} to the end" if a[1] else ""
        return f"If the string starts with {q(a[0])}, delete these first two characters{tail}."
    if kind == "suffix_prepend":
        return (f"If the string ends with {q(a[0])}, replace that suffix with {q(a[1])} and add {q(a[2])} "
                "to the start." if a[1] else
                f"If the string ends with {q(a[0])}, delete that suffix and add {q(a[2])} to the start.")
    if kind == "contains_replace":
        return (f"If the string contains {q(a[0])}, replace its first (leftmost) occurrence with {q(a[1])}."
                if a[1] else f"If the string contains {q(a[0])}, delete its first (leftmost) occurrence.")
    if kind == "even_count_append":
        return (f"If the letter {q(a[0])} occurs an even, non-zero number of times, append {q(a[1])} to the "
                "end.")
    return (f"If the string is longer than {a[0]} characters, delete its middle character (the one at "
            "0-based index length // 2).")


REWRITE_KINDS = ["prefix_replace", "suffix_replace", "prefix_move", "suffix_prepend", "contains_replace",
                 "contains_replace", "even_count_append", "long_remove_middle"]


class StringDeletionAndModification(ProceduralTask):
    """Rewrite a string with prioritised rules until no rule applies."""

    name = "string_deletion_and_modification"
    defaults = {"n_rules": 6, "min_len": 12, "max_len": 20, "min_steps": 5}
    harder = {"n_rules": 9, "min_len": 25, "max_len": 40, "min_steps": 12}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        while True:
            rules = [_random_rule(rng, rng.choice(REWRITE_KINDS)) for _ in range(p["n_rules"])]
            start = _random_piece(rng, p["min_len"], p["max_len"])
            try:
                states = rewrite_until_stable(start, rules, max_steps=300)
            except RuntimeError:
                continue
            if len(states) - 1 >= p["min_steps"] and states[-1]:
                break
        lines = "\n".join(f"{i}. {describe_rule(r)}" for i, r in enumerate(rules, 1))
        question = (
            f"Apply the following rules to a string made of the letters a, b and c:\n\n{lines}\n\nAt every "
            "step, find the first rule in this list (lowest number) whose condition holds and apply it once, "
            f"then start again from rule 1. Stop when no rule applies.\nFor the string \"{start}\", what is "
            "the final string?\nProvide your answer as a string in the format <<<\"final_string\">>>.")
        return question, states[-1], {"start": start, "rules": rules, "final": states[-1]}

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, 2000)
        return float(s is not None and s == item.meta["final"])

    def solve(self, item: TaskItem) -> str:
        call = (f"rules = {item.meta['rules']!r}\nstates = rewrite_until_stable({item.meta['start']!r}, "
                "rules)\nprint(states[-1])")
        return program(apply_rewrite, rewrite_until_stable, call=call)


# ------------------------------------------------------------------------------------------ string_insertion
class StringInsertion(ProceduralTask):
    """Insert a character after every occurrence of trigger substrings (positions in the original string)."""

    name = "string_insertion"
    defaults = {"min_len": 20, "max_len": 30, "min_triggers": 3}
    harder = {"min_len": 60, "max_len": 90, "min_triggers": 8}

    def _make(self, rng: random.Random, p: dict[str, Any]):
        alphabet = "ABCDE"
        patterns: list[str] = []
        while len(patterns) < 5:
            pat = "".join(rng.choice(alphabet) for _ in range(4))
            if pat not in patterns:
                patterns.append(pat)
        rules = [[pat, rng.choice(alphabet)] for pat in patterns]
        while True:
            length = rng.randint(p["min_len"], p["max_len"])
            chars = [rng.choice(alphabet) for _ in range(length)]
            for _ in range(p["min_triggers"]):
                pat, at = rng.choice(patterns), rng.randint(0, length - 4)
                chars[at:at + 4] = pat
            s = "".join(chars)
            if sum(s.startswith(pat, i) for i in range(len(s)) for pat in patterns) >= p["min_triggers"]:
                break
        lines = "\n".join(f"{i}. If the substring {pat} occurs, insert the character {c} right after it."
                          for i, (pat, c) in enumerate(rules, 1))
        question = (
            f"Given a string of the characters A, B, C, D and E, define the operation T:\n\n{lines}\n\nAll "
            "occurrences (overlapping ones included) are located in the original string, scanning from left "
            "to right; if several rules match at the same starting position, only the lowest-numbered one is "
            "used. Then every insertion is made at once (each inserted character goes right after its "
            f"occurrence in the original string).\nGiven the string {s}, what is the string after one "
            "operation T?\nReturn the answer in the format <<<a string>>>.")
        result = insert_after_patterns(s, rules)
        return question, result, {"string": s, "rules": rules, "result": result}

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, 2000)
        return float(s is not None and s.replace(" ", "") == item.meta["result"])

    def solve(self, item: TaskItem) -> str:
        return program(insert_after_patterns,
                       call=f"print(insert_after_patterns({item.meta['string']!r}, {item.meta['rules']!r}))")


TASKS = [StatisticalCounting, StringDeletionAndModification, StringInsertion]
