"""extract_answer: the one answer extractor (last <<<...>>>), tolerant of form, strict about presence."""

from __future__ import annotations

import pytest

from r1ci.tasks import extract_answer


@pytest.mark.parametrize("text,expected", [
    ("so the answer is <<<42>>>", "42"),
    ("<<<1>>> no wait <<<2>>>", "2"),  # the last one counts
    ("<<<  7 \n>>>", "7"),  # whitespace
    ("<<<'abc'>>>", "abc"),  # quotes
    ('<<<"a b">>>', "a b"),
    ("<<<[[1, 2], [3, [4]]]>>>", "[[1, 2], [3, [4]]]"),  # nested brackets kept
    ("<<<<x>>>>", "x"),  # extra angle brackets
    ("<<<a < b>>>", "a < b"),
    ("<<<>>>", ""),  # present but empty: the scorer decides
    ("multi\nline <<<line1\nline2>>> end", "line1\nline2"),
])
def test_extracts_last_marker(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text", [None, "", "no answer here", "<<<unterminated", "answer>>>", "<< 5 >>",
                                  "```python\nprint(1)\n```"])
def test_none_when_absent(text):
    assert extract_answer(text) is None


def test_unterminated_last_marker_falls_back_to_previous_complete_one():
    assert extract_answer("<<<first>>> then <<<second") == "first"


def test_huge_input_is_fast_and_safe():
    text = "<<<" * 100_000 + "x" + ">>>" * 100_000
    assert extract_answer(text) == "x"


@pytest.mark.parametrize("text,expected", [
    ("<<<] ] >>>>", "] ] >"),  # a Dyck answer ending in ">" keeps it
    ("<<<a -> b>>>", "a -> b"),
    ("<<<<<x>>>>>", "x"),
    ("<<<<x>>>>>", "x>"),  # one extra "<" wraps one ">"; the other belongs to the answer
])
def test_closing_angle_brackets_inside_answers(text, expected):
    assert extract_answer(text) == expected
