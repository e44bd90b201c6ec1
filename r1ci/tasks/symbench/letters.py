"""Letters (SymBench): count one letter in a long word and list its positions.

Hard for a tokenised language model reading text (it never sees single letters), trivial for code. Words
are compounds of ordinary English words so they look natural but are too long to count at a glance.
"""

from __future__ import annotations

import re

from r1ci.tasks.base import TaskItem
from r1ci.tasks.symbench._common import ProceduralTask, bounded_answer, program

_WORDS = """
strawberry mississippi bookkeeper committee accommodate embarrassment occurrence possession
necessary parallel millennium questionnaire recommend separate tomorrow vacuum beginning
assassination balloon cappuccino difference entrepreneur foreseeable guarantee happiness
independence jewellery knowledgeable leisurely maintenance noticeable opportunity preference
quarrelsome restaurant successful threshold unnecessary vegetable withhold xylophone yesterday
zucchini afternoon butterfly carpenter dragonfly elephant firefighter grasshopper hummingbird
intelligence kangaroo lighthouse marshmallow nightingale orchestra peppermint raspberry
scarecrow tennessee umbrella volleyball waterfall barrel coffee chocolate pineapple
programming interpreter mathematics probability statistics reinforcement curriculum
benchmark generation tokenizer transformer attention parameter gradient optimizer
bubblegum cinnamon tattoo giraffe spaghetti broccoli assessment address bassoon
""".split()


def letter_positions(word, letter):
    """1-based positions of `letter` in `word`."""
    return [i + 1 for i, ch in enumerate(word) if ch == letter]


def letters_answer(word, letter):
    positions = letter_positions(word, letter)
    return f"Count: {len(positions)}, Positions: [{', '.join(map(str, positions))}]"


_ANSWER_RE = re.compile(
    r"count\s*[:=]?\s*(\d{1,4})\s*[,;]?\s*positions\s*[:=]?\s*[\[(]([\d,\s]{0,2000})[\])]\.?", re.IGNORECASE)


class Letters(ProceduralTask):
    """How many times does a letter occur in a long word, and where."""

    name = "letters"
    defaults = {"min_length": 15, "max_length": 25}
    harder = {"min_length": 30, "max_length": 45}

    def _make(self, rng, params):
        lo, hi = params["min_length"], params["max_length"]
        while True:
            word = ""
            while len(word) < lo:
                word += rng.choice(_WORDS)
            if len(word) <= hi:
                break
        counts = {ch: word.count(ch) for ch in set(word)}
        letter = rng.choice(sorted(ch for ch, k in counts.items() if k >= min(3, max(counts.values()))))
        question = (
            f"How many '{letter}'s are in the word '{word}' and what are their positions (1-based, counting "
            "the first letter as position 1)? Please respond in the format 'Count: X, Positions: [Y, Z, "
            "...]', "
            f"for example <<<Count: 2, Positions: [3, 7]>>>."
        )
        return question, letters_answer(word, letter), {"word": word, "letter": letter}

    def _score(self, answer: str, item: TaskItem) -> float:
        s = bounded_answer(answer, 2500)
        m = _ANSWER_RE.fullmatch(s or "")
        if not m:
            return 0.0
        positions = [int(t) for t in re.split(r"[,\s]+", m.group(2).strip()) if t]
        expected = letter_positions(item.meta["word"], item.meta["letter"])
        return float(int(m.group(1)) == len(expected) and positions == expected)

    def solve(self, item: TaskItem) -> str:
        call = f"print(letters_answer({item.meta['word']!r}, {item.meta['letter']!r}))"
        return program(letter_positions, letters_answer, call=call)


TASKS = [Letters]
