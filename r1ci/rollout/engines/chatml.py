"""Reading a Qwen-style (ChatML) prompt back into chat messages, for chat-only APIs such as GPT-4o.

The loop renders a rollout as one token sequence: system, user, then one assistant turn in which model
segments and interpreter outputs ("Code Execution Results: ...") alternate. A chat API cannot continue
that sequence, so the OpenAI engine's chat mode decodes it, parses it back into messages here, and
hands each interpreter output to the API as a user message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from r1ci.rollout.loop import RESULTS_PREFIX

IM_START, IM_END = "<|im_start|>", "<|im_end|>"


@dataclass
class ParsedPrompt:
    messages: list[dict[str, str]]  # the complete messages, in order
    partial: str | None  # content of the unfinished assistant turn at the end; None if there is none


def parse_chatml(text: str) -> ParsedPrompt:
    """Invert the chat template: `<|im_start|>role\\ncontent<|im_end|>\\n`*, then maybe an open assistant
    turn."""
    pieces = text.split(IM_START)
    if pieces[0].strip():
        raise ValueError(f"text before the first {IM_START}: {pieces[0][:40]!r}")
    messages: list[dict[str, str]] = []
    partial = None
    for i, piece in enumerate(pieces[1:], start=1):
        role, newline, body = piece.partition("\n")
        if not newline:
            raise ValueError(f"turn {i} has no newline after its role: {piece[:40]!r}")
        content, closed, rest = body.partition(IM_END)
        if closed:
            if rest not in ("", "\n"):
                raise ValueError(f"unexpected text after {IM_END}: {rest[:40]!r}")
            messages.append({"role": role, "content": content})
        elif i == len(pieces) - 1 and role == "assistant":
            partial = content
        else:
            raise ValueError(f"only the last turn, the assistant's, may be unfinished (turn {i}: {role!r})")
    return ParsedPrompt(messages, partial)


def split_assistant_turn(partial: str, is_model_text: Callable[[str], bool]
                         ) -> tuple[list[dict[str, str]], int]:
    """Alternating assistant / user messages from an unfinished assistant turn.

    An interpreter output starts with the results prefix and ends with a newline, but nothing marks
    where the model's next segment begins; the engine remembers what it generated (`is_model_text`),
    which also tells a real output from the model merely writing the prefix. Without that memory the
    convention is used: an output starts at a line beginning with the prefix and runs to the next one.
    Returns the messages and how many outputs had no recognisable end (their chunk, model text
    included, went to the user message whole).
    """
    marks = [m.start() for m in re.finditer(re.escape(RESULTS_PREFIX), partial)]
    line_marks = [m for m in marks if m == 0 or partial[m - 1] == "\n"]
    messages: list[dict[str, str]] = []
    unsplit = 0
    p = _known_piece_end(partial, 0, marks, is_model_text) or _next(line_marks, -1, len(partial))
    if p:
        messages.append({"role": "assistant", "content": partial[:p]})
    while p < len(partial):  # p is at the start of an interpreter output
        piece = _model_piece_after(partial, p, marks, is_model_text)
        if piece is None:
            q = _next(line_marks, p, len(partial))
            messages.append({"role": "user", "content": partial[p:q]})
            unsplit += q != len(partial)  # the last output legitimately ends the prompt
        else:
            k, q = piece
            messages += [{"role": "user", "content": partial[p:k]},
                         {"role": "assistant", "content": partial[k:q]}]
        p = q
    return messages, unsplit


def _next(positions: list[int], after: int, default: int) -> int:
    return next((x for x in positions if x > after), default)


def _known_piece_end(text: str, p: int, marks: list[int], known: Callable[[str], bool]) -> int | None:
    """End of the remembered model segment that starts at `p` and is followed by an output (or the end)."""
    for q in [m for m in marks if m > p] + [len(text)]:
        if known(text[p:q]):
            return q
    return None


def _model_piece_after(text: str, p: int, marks: list[int], known: Callable[[str], bool]
                       ) -> tuple[int, int] | None:
    """(start, end) of the remembered model segment that follows the output at `p`: it starts at a line
    start inside the output's chunk; the longest such segment before the earliest possible end wins."""
    for q in [m for m in marks if m > p] + [len(text)]:
        for nl in re.finditer("\n", text[p:q]):
            k = p + nl.end()
            if k < q and known(text[k:q]):
                return k, q
    return None
