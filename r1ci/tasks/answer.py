"""The one answer extractor: the last `<<<...>>>` in a model's text."""

from __future__ import annotations

OPEN, CLOSE = "<<<", ">>>"


def extract_answer(text: str | None) -> str | None:
    """Return the content of the last `<<<...>>>`, stripped of whitespace and one layer of quotes.

    Nested brackets are kept as content (`<<<[[1, 2], [3]]>>>` -> `[[1, 2], [3]]`); extra angle
    brackets around the answer (`<<<<x>>>>`) are tolerated. Returns None when no complete marker exists,
    including an unterminated `<<<...` at the end.
    """
    if not text:
        return None
    end = text.rfind(CLOSE)  # the last ">>>": in a run like ">>>>" this is its final three characters
    if end < 0:
        return None
    start = text.rfind(OPEN, 0, end)
    if start < 0:
        return None
    inner = text[start + len(OPEN):end]
    # "<<<<x>>>>": extra "<" before the opener are wrapping, so drop as many ">" from the end, and no more
    # (an answer may itself end in ">", e.g. a Dyck word "] ] >").
    extra = len(text[:start]) - len(text[:start].rstrip("<"))
    while extra and inner.endswith(">"):
        inner, extra = inner[:-1], extra - 1
    return _strip_quotes(inner.strip())


def _strip_quotes(s: str) -> str:
    for q in ('"""', "'''", '"', "'", "`"):
        if len(s) >= 2 * len(q) and s.startswith(q) and s.endswith(q):
            return s[len(q):-len(q)].strip()
    return s
