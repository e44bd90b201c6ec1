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
    end = text.rfind(CLOSE)
    if end < 0:
        return None
    # In a run like ">>>>" the answer closes at the first three characters of the run.
    while text.startswith(CLOSE, end - 1) and end > 0:
        end -= 1
    start = text.rfind(OPEN, 0, end)
    if start < 0:
        return None
    inner = text[start + len(OPEN):end]
    return _strip_quotes(inner.strip())


def _strip_quotes(s: str) -> str:
    for q in ('"""', "'''", '"', "'", "`"):
        if len(s) >= 2 * len(q) and s.startswith(q) and s.endswith(q):
            return s[len(q):-len(q)].strip()
    return s
