"""Reasoning-Gym tasks: each of the 84 generates, checks its own reference, round-trips through JSON and
survives hostile answers; the scoring gates keep model text away from RG's eval-based checkers."""

from __future__ import annotations

import json

import pytest

from r1ci.tasks import ANSWER_INSTRUCTION, TaskItem, extract_answer, get_task, list_tasks
from r1ci.tasks.bbh import BBH_TASKS
from r1ci.tasks.reasoning_gym import (
    EXCLUDED,
    RG_TASKS,
    _rubiks_gate,
    _rush_hour_gate,
    _sympy_gate,
    example_solution,
    rg_score,
)
from r1ci.tasks.symbench import SYMBENCH_TASKS

N, SEED = 5, 1234
PLAN_CHECKED = {"graph_color", "propositional_logic", "rubiks_cube", "rush_hour"}  # RG answer=None
# Checked by verifying the answer, so another item's answer may be right too (a plan that also works).
VERIFIED = PLAN_CHECKED | {"jugs", "sokoban", "countdown", "word_ladder", "shortest_path", "quantum_lock",
                           "kakurasu", "cryptarithm", "tower_of_hanoi", "palindrome_generation"}
HOSTILE = [
    "", " ", "\n\n", "x" * 1_000_000, "9" * 99_999, "x" * 99_999, "[" * 5000 + "]" * 5000, "(" * 5000,
    "<<<>>>", "None",
    "__import__('os').system('echo hostile')", "9**9**9**9", "(9**999)**999", "x**(10**10)", "1e999999999",
    "nan", "1/0", "A+999999999 B-999999999", "U999999999 R" + "9" * 5000, "```python\nprint(1)\n```",
    "{'a': [1, {2: (3,)}]}", "[[1, 2], [3, [4, [5]]]]", "\x00\x01", "💥" * 1000, "exp(exp(exp(exp(100))))",
    "1" + "+1" * 6000,
]
# Answers that may be right for some item ("True", "0", "[]"): allowed to score 1, never to raise.
PLAUSIBLE = ["True", "0", "[]", "{}", "-1"]

_items: dict[str, list[TaskItem]] = {}


def items_of(name: str) -> list[TaskItem]:
    """N items per task, generated once per test session (the slow generators take ~1 s)."""
    if name not in _items:
        _items[name] = get_task(name).generate(N, SEED)
    return _items[name]


def test_exactly_84_registered_without_collisions():
    from reasoning_gym.factory import DATASETS

    assert len(RG_TASKS) == 84 == len(set(RG_TASKS))
    assert list_tasks("reasoning_gym") == sorted(RG_TASKS)
    assert not set(RG_TASKS) & set(SYMBENCH_TASKS)
    assert not set(RG_TASKS) & set(BBH_TASKS)
    # Every generator of the package is either chosen or excluded with a reason.
    assert set(RG_TASKS) | set(EXCLUDED) == set(DATASETS)
    assert not set(RG_TASKS) & set(EXCLUDED) and len(EXCLUDED) == 22
    assert all(get_task(n).source == "reasoning_gym" for n in RG_TASKS)


@pytest.mark.parametrize("name", RG_TASKS)
def test_items_reference_right_wrong_answers_zero(name):
    task, items = get_task(name), items_of(name)
    assert len(items) == N and len({it.id for it in items}) == N
    solutions = []
    for it in items:
        assert it.task == name and it.question.endswith(ANSWER_INSTRUCTION)
        assert (it.answer is None) == (name in PLAN_CHECKED)
        solution = example_solution(it)
        assert solution is not None
        assert task.score(solution, it) == 1.0, (it.id, solution[:200])
        assert task.score("zzz definitely wrong", it) == 0.0
        assert task.score(None, it) == 0.0
        solutions.append(solution)
    if name in VERIFIED:
        return
    for it, own in zip(items, solutions):
        for other in solutions:
            if other.strip() != own.strip():  # another item's answer: right format, wrong value
                assert task.score(other, it) == 0.0, (it.id, other[:100], own[:100])


@pytest.mark.parametrize("name", RG_TASKS)
def test_deterministic_for_a_seed(name):
    again = get_task(name).generate(N, SEED)
    assert [it.to_dict() for it in again] == [it.to_dict() for it in items_of(name)]


_DIGESTS = """import hashlib, json
from r1ci.tasks import get_task, list_tasks
for name in list_tasks():
    items = [it.to_dict() for it in get_task(name).generate(3, 1234)]
    print(name, hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest())
"""


def test_every_task_draws_the_same_items_in_every_process():
    """Python randomises set order per process (PYTHONHASHSEED). A generator that picks from a set of
    strings would give each run, and each rank, other items; HASH_ORDER_DEPENDENT ones are drawn under a
    fixed hash seed. All 144 tasks, in two processes with different hash seeds, draw the same items."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import r1ci

    def digests(hash_seed: str) -> dict[str, str]:
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(Path(r1ci.__file__).parents[1])}
        out = subprocess.run([sys.executable, "-c", _DIGESTS], env=env, capture_output=True, text=True,
                             check=True).stdout
        return dict(line.split() for line in out.splitlines())

    first, second = digests("1"), digests("2")
    assert len(first) == len(list_tasks()) == 144
    assert [t for t in first if first[t] != second[t]] == []


@pytest.mark.parametrize("name", RG_TASKS)
def test_json_round_trip_then_score(name):
    task = get_task(name)
    for it in items_of(name):
        back = TaskItem.from_dict(json.loads(json.dumps(it.to_dict())))
        assert back == it
        assert task.score(example_solution(back), back) == 1.0


@pytest.mark.parametrize("name", RG_TASKS)
def test_model_text_extracted_and_scored(name):
    task = get_task(name)
    for it in items_of(name)[:2]:
        text = (f"Let me check with code.\n```python\nprint('hi')\n```\nCode Execution Results: hi\n\n"
                f"So the final answer is <<<{example_solution(it)}>>>")
        assert task.score(extract_answer(text), it) == 1.0


@pytest.mark.timeout(120)  # a hostile answer that hangs a scorer fails here; speed: benchmarks/
@pytest.mark.parametrize("name", RG_TASKS)
def test_hostile_answers_never_raise(name, capfd):
    task = get_task(name)
    for it in items_of(name)[:2]:
        for answer in HOSTILE:
            assert task.score(answer, it) == 0.0, repr(answer[:40])
        for answer in PLAUSIBLE:
            assert task.score(answer, it) in (0.0, 1.0)
    assert "hostile" not in capfd.readouterr().out  # the os.system payload never ran


def test_code_in_answers_never_runs(tmp_path):
    marker = tmp_path / "ran"
    payloads = [f"__import__('pathlib').Path({str(marker)!r}).write_text('x')",
                f"[__import__('pathlib').Path({str(marker)!r}).write_text('x')]"]
    for name in ("binary_matrix", "spiral_matrix", "countdown", "polynomial_multiplication",
                 "simple_integration", "intermediate_integration"):
        for payload in payloads:
            assert get_task(name).score(payload, items_of(name)[0]) == 0.0
    assert not marker.exists()


def test_sympy_gate_keeps_math_and_rejects_the_rest():
    for ok in ("-3*sin(8*x + 9)**4/4 + C", "x**(3/2) + 2**x/log(2)", "(x**2)**3", "-327405*y**6 + 9*y"):
        assert _sympy_gate(ok) == ok
    for bad in ("__import__('os')", "9**9**9", "(9**99)**99", "x**1000", "N(pi, 10**6)", "factorial(99)",
                "lambda: 0", "x.real", "'a'", "5!", "1e99999", "[x]"):
        assert _sympy_gate(bad) is None, bad


def test_count_clamping_gates_keep_the_meaning():
    assert _rush_hour_gate("A+2 B-999999999") == "A+2 B-6"
    assert _rubiks_gate("U U' R2 F999999999") == "U U' R2 F3"
    assert _rubiks_gate("L4") == "L0"  # four quarter turns do nothing, like none


def test_partial_credit_counts_as_wrong():
    item = items_of("advanced_geometry")[0]
    assert 0.0 < rg_score("12345.678", item) < 1.0  # RG: a little credit for any number
    assert get_task("advanced_geometry").score("12345.678", item) == 0.0


def test_zero_items():
    assert get_task("gcd").generate(0, SEED) == []
