"""Finding the code a model segment asks to run: a ```python block that ends the segment."""

from __future__ import annotations

import re

# Generation stops at every fence followed by a newline; the loop ends the model turn only when that fence
# closes a python block, and continues the same turn after an opening or a non-python fence (loop.py).
CODE_STOP = "```\n"
_OPEN = re.compile(r"```(?:python3?|py|Python)[ \t]*\n")  # a bare ``` or ```text block is not run


def trailing_code_block(text: str) -> str | None:
    """The code of a python block that the segment closes at its very end, else None.

    Fences alternate open/close from the start of the segment, so "...```python\nprint(1)\n```" gives
    "print(1)\n", while an unterminated block, a stray closing fence or a block not tagged python (a bare
    fence, ```text) give None.
    """
    body = text.rstrip(" \t\n")
    fences = [m.start() for m in re.finditer("```", body)]
    if len(fences) < 2 or len(fences) % 2 or fences[-1] != len(body) - 3:
        return None
    opener = _OPEN.match(body, fences[-2])
    if opener is None:
        return None
    return body[opener.end():fences[-1]]


def has_unterminated_block(text: str) -> bool:
    """True when a ```python block is opened and never closed (a malformed segment)."""
    return len(re.findall(r"```", text)) % 2 == 1
