"""User-data tasks (r1ci/tasks/user_jsonl.py): strict reading, the four rules, registration in the task mix,
and stage=eval on the example mix (examples/user_tasks/, conf/task_mix/user_example.yaml)."""

from __future__ import annotations

import csv
import json
import re
import threading
from fractions import Fraction

import pytest

from r1ci.config import ConfigError, UserTaskConfig, compose, validate
from r1ci.rollout.engines.base import GenOutput
from r1ci.stages import eval as eval_stage
from r1ci.tasks import ANSWER_INSTRUCTION, get_task, task_source
from r1ci.tasks import user_jsonl
from r1ci.tasks.mix import mix_data, select_tasks
from r1ci.tasks.user_jsonl import UserJsonlTask, math_equal

EXAMPLE_TASKS = {"user_exact": 5, "user_numeric": 6, "user_multiple_choice": 5, "user_math": 6}  # records
GOOD = '{"question": "What is 6 x 7?", "answer": 42}'
COS = "\\frac{\\sqrt{6}+\\sqrt{2}}{4}"  # cos(pi/12)
DERIVATIVE = "3x^2 \\sin(x) + x^3 \\cos(x)"  # of x^3 sin(x)


def _task(tmp_path, lines: list[str], rule: str = "exact", name: str = "mine", **kw) -> UserJsonlTask:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return UserJsonlTask(UserTaskConfig(name=name, path=str(path), rule=rule, **kw))


def _score(task: UserJsonlTask, answer: str | None, index: int = 0) -> float:
    return task.score(answer, task.items[index])


# ------------------------------------------------------------------------------------------ the mix

def test_example_mix_holds_only_the_user_tasks_as_eval_only_items():
    mix = compose(["task_mix=user_example"]).task_mix
    assert select_tasks(mix) == list(EXAMPLE_TASKS)
    data = {d.task: d for d in mix_data(mix)}
    assert {t: len(d.test) for t, d in data.items()} == EXAMPLE_TASKS  # every record, none held back
    assert all(d.train == [] and d.source == "user" for d in data.values())  # never trained on
    for name in EXAMPLE_TASKS:
        assert task_source(name) == "user"
        items = data[name].test
        assert len({it.id for it in items}) == len(items)
        assert all(it.question.endswith(ANSWER_INSTRUCTION) and it.task == name for it in items)
        assert all(get_task(name).score(it.answer, it) == 1.0 for it in items)  # references check themselves


def test_user_tasks_join_a_built_in_mix_and_keep_their_source_label():
    quiz = "{name: quiz, path: examples/user_tasks/math.jsonl, rule: math, source: my_bench}"
    mix = compose(["task_mix=smoke", f"task_mix.user_tasks=[{quiz}]"]).task_mix
    assert select_tasks(mix)[-1] == "quiz" and "gcd" in select_tasks(mix)
    assert task_source("quiz") == "my_bench"
    data = {d.task: d for d in mix_data(mix)}
    assert data["quiz"].train == [] and len(data["quiz"].test) == min(6, mix.n_test_per_task)
    assert data["gcd"].train  # built-in tasks of an explicit list still train


def test_seeded_sample_of_the_pool(tmp_path):
    task = _task(tmp_path, [f'{{"question": "q{i}", "answer": {i}}}' for i in range(20)], rule="numeric")
    a, b = task.generate(5, seed=1), task.generate(5, seed=1)
    assert [it.id for it in a] == [it.id for it in b] and len(a) == 5
    assert [it.id for it in task.generate(5, seed=2)] != [it.id for it in a]
    assert len(task.generate(100, seed=0)) == 20 and a[0].id.startswith("mine-")


# ------------------------------------------------------------------------------------------ rules

@pytest.mark.parametrize("answer,want", [
    ("Saturday", 1), ("  saturday. ", 1), ('"SATURDAY"', 1),
    ("Sunday", 0), ("Saturday morning", 0), (None, 0)])
def test_exact(tmp_path, answer, want):
    task = _task(tmp_path, ['{"question": "Day of 2000-01-01?", "answer": "Saturday"}'])
    assert _score(task, answer) == want


@pytest.mark.parametrize("reference,answer,want", [
    ('"1/6"', "0.1666667", 1), ('"1/6"', "\\frac{1}{6}", 1), ('"1/6"', "0.17", 0),  # fraction vs decimal
    ("0.75", "3/4", 1), ("0.75", "-3/4", 0),
    ("16126.997", "16,126.997", 1), ("16126.997", "16127.5", 0),
    ("130", "130.0", 1), ("130", "x = 130", 1), ("130", "131", 0), ("130", "one hundred thirty", 0),
    ("1000", "1000.0009", 1), ("1000", "1000.01", 0),  # relative above 1: 1e-6 x 1000
    ("0.001", "0.0010009", 1), ("0.001", "0.0010011", 0),  # absolute below 1: 1e-6
])
def test_numeric(tmp_path, reference, answer, want):
    task = _task(tmp_path, [f'{{"question": "q", "answer": {reference}}}'], rule="numeric")
    assert _score(task, answer) == want


def test_numeric_tolerance_is_configurable(tmp_path):
    task = _task(tmp_path, ['{"question": "q", "answer": 3.14159}'], rule="numeric", tolerance=1e-2)
    assert _score(task, "3.14") == 1 and _score(task, "3.2") == 0


@pytest.mark.parametrize("answer,want", [
    ("(B)", 1), ("B", 1), ("b.", 1), ("photon", 1), ("(B) photon", 1), ("Photon", 1),
    ("(A)", 0), ("gluon", 0), ("(B) gluon", 0), ("E", 0), ("", 0)])
def test_multiple_choice_letter_or_text(tmp_path, answer, want):
    question, choices = "Carrier of the EM force?", ["gluon", "photon", "W boson"]
    by_text = {"question": question, "choices": choices, "answer": "photon"}
    by_letter = {"question": question, "choices": choices, "answer": "B"}
    listed = {"question": question + "\n(A) gluon\n(B) photon\n(C) W boson", "answer": "(B)"}
    task = _task(tmp_path, [json.dumps(r) for r in (by_text, by_letter, listed)], rule="multiple_choice")
    for i in range(3):
        assert _score(task, answer, i) == want
    assert "Options:\n(A) gluon\n(B) photon\n(C) W boson" in task.items[0].question
    assert task.items[2].question.count("(B) photon") == 1  # options the question lists are not repeated


@pytest.mark.parametrize("reference,answer,want", [
    ("\\frac{3}{2}", "1.5", 1), ("\\frac{3}{2}", "3/2", 1), ("\\frac{3}{2}", "\\dfrac32", 1),
    ("\\frac{3}{2}", "1.4", 0),
    ("1 + \\sqrt{2}", "sqrt(2)+1", 1), ("1 + \\sqrt{2}", "1+2^(1/2)", 1), ("1 + \\sqrt{2}", "1 - sqrt(2)", 0),
    (COS, "cos(pi/12)", 1), (COS, "0.9659258263", 1), (COS, "0.966", 0),
    ("x + 1", "(x^2-1)/(x-1)", 1), ("x + 1", "$\\boxed{1+x}$", 1), ("x + 1", "x - 1", 0), ("x + 1", "x", 0),
    (DERIVATIVE, "x^3\\cos x + 3x^2\\sin x", 1), (DERIVATIVE, "3x^2 cos(x)", 0),
    ("(2, 3)", "2, 3", 1), ("(2, 3)", "(3, 2)", 0), ("(2, 3)", "2", 0),
    ("1234", "1,234", 1), ("90", "90^\\circ", 1), ("5", "5\\text{ cm}", 1),
])
def test_math_equivalence(tmp_path, reference, answer, want):
    task = _task(tmp_path, [json.dumps({"question": "q", "answer": reference})], rule="math")
    assert _score(task, answer) == want


HOSTILE = [
    "9" * 20_000,  # over-long
    "2^(10^10)", "10^10^10^10", "((10^60)^1000)^1000", "2^(-10^10)",  # big-int arithmetic
    "(" + "+".join("abcdefghijklmnopqrstuvw") + ")^1000",  # huge expansion
    "__import__('os').system('touch /tmp/r1ci_pwned')", "x.__class__.__mro__", "().__class__", "exec('1')",
    "\\frac{", "\\frac{1}{", "(" * 200 + "1" + ")" * 200, "\\input{/etc/passwd}", "1/0", "oo - oo", "nan",
]


@pytest.mark.timeout(120)  # each check is bounded (MATH_TIMEOUT_S): a hang fails here
def test_hostile_math_answers_score_zero(tmp_path):
    task = _task(tmp_path, ['{"question": "q", "answer": "1"}'], rule="math")
    for answer in HOSTILE:
        assert _score(task, answer) == 0.0, answer
    numeric = _task(tmp_path, ['{"question": "q", "answer": 1}'], rule="numeric", name="num")
    assert all(_score(numeric, a) == 0.0 for a in HOSTILE)


@pytest.mark.timeout(30)  # without the time limit it would wait for the release forever
def test_a_slow_math_check_times_out(monkeypatch):
    """A check still running at its time limit scores 0: math_equal returns while the check is blocked
    (ordering, not a wall-clock bound), and the check's thread is released afterwards."""
    release = threading.Event()
    monkeypatch.setattr(user_jsonl, "_equivalent", lambda a, b, tol: release.wait() or True)
    assert math_equal("x", "x", 1e-6, timeout_s=0.2) is False
    assert not release.is_set()  # it answered before the check could finish
    release.set()


# ------------------------------------------------------------------------------------ bad records

@pytest.mark.parametrize("line,message", [
    ('{"question": "What is 1 + 1?"}', "missing field 'answer'"),
    ('{"answer": 2}', "missing field 'question'"),
    ('{"question": "q", "answer": 2', "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"question": "", "answer": 2}', "'question' must be a non-empty string"),
    ('{"question": "q", "answer": [2]}', "'answer' must be a non-empty string or a number"),
    ('{"question": "q", "answer": true}', "'answer' must be"),
    ('{"question": "q", "answer": 2, "rule": "bogus"}', "unknown rule 'bogus'"),
    ('{"question": "q", "answer": 2, "anwser": 2}', "unknown field(s) ['anwser']"),
    ('{"id": "a", "question": "q", "answer": 2}', "duplicate id 'mine-a' (also on line 1)"),
    ('{"question": "q", "answer": 2, "choices": ["1", "2"]}', "'choices' is only for the multiple_choice"),
    ('{"question": "q", "answer": "two", "rule": "numeric"}', "is not a number"),
    ('{"question": "q", "answer": "[0, 1)", "rule": "math"}', "not an expression the math rule can read"),
    ('{"question": "q", "answer": "C", "rule": "multiple_choice", "choices": ["x", "y"]}', "neither an"),
    ('{"question": "q", "answer": "A", "rule": "multiple_choice"}', "needs 'choices'"),
])
def test_bad_record_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "mine.jsonl"
    with pytest.raises(ValueError) as err:
        _task(tmp_path, ['{"id": "a", "question": "q", "answer": "x"}', "", line])  # the blank line counts
    assert str(err.value).startswith(f"{path}:3: ") and message in str(err.value)


def test_bad_file_stops_the_eval_stage_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(GOOD + "\n" + '{"question": "no answer"}\n')
    numeric_path = f"task_mix.user_tasks.1.path={bad}"
    cfg = compose(["stage=eval", "logger=none", "task_mix=user_example", numeric_path])
    with pytest.raises(ValueError, match=re.escape(f"{bad}:2: missing field 'answer'")):
        eval_stage.eval_items(cfg)
    with pytest.raises(ValueError, match="no records"):
        _task(tmp_path, [""], name="empty")


def test_unknown_rule_fails_at_compose_time_naming_the_file():
    with pytest.raises(ConfigError, match=r"task_mix.user_tasks.rule: .*'bogus'.*user_tasks/exact.jsonl"):
        compose(["task_mix=user_example", "task_mix.user_tasks.0.rule=bogus"])


def test_names_must_not_clash(tmp_path):
    clash = compose(["task_mix=user_example", "task_mix.user_tasks.0.name=gcd"]).task_mix
    with pytest.raises(ValueError, match="'gcd' is taken by the built-in reasoning_gym task"):
        select_tasks(clash)
    assert task_source("gcd") == "reasoning_gym"  # the built-in task is untouched
    twice = compose(["task_mix=user_example", "task_mix.user_tasks.1.name=user_exact"]).task_mix
    with pytest.raises(ValueError, match="'user_exact' is given twice"):
        select_tasks(twice)


def test_relative_paths_resolve_against_cwd_then_repo_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here.jsonl").write_text(GOOD + "\n")
    assert len(UserJsonlTask(UserTaskConfig(name="a", path="here.jsonl", rule="numeric")).items) == 1
    repo = UserJsonlTask(UserTaskConfig(name="b", path="examples/user_tasks/exact.jsonl"))
    assert len(repo.items) == EXAMPLE_TASKS["user_exact"]
    with pytest.raises(FileNotFoundError, match="nowhere.jsonl.*working directory.*repository root"):
        UserJsonlTask(UserTaskConfig(name="c", path="nowhere.jsonl"))


# ------------------------------------------------------------------------------------ stage=eval

class ReferenceEngine:
    """Answers every question with its reference, in another accepted form where the rule allows one."""

    def __init__(self, tokenizer, answers: dict[str, str]):
        self.tokenizer, self.closed = tokenizer, False
        # keyed by the question's body: the style's instruction sits before its answer line
        self.answers = {q.removesuffix(ANSWER_INSTRUCTION): a for q, a in answers.items()}

    async def generate(self, prompt_ids, sampling):
        seen = self.tokenizer.decode(prompt_ids)
        answer = next(a for q, a in self.answers.items() if q in seen)
        ids = self.tokenizer.encode(f"Done. <<<{answer}>>>", add_special_tokens=False)
        return GenOutput(ids, [-0.1] * len(ids), "stop", None)

    def close(self) -> None:
        self.closed = True


def _other_form(item) -> str:
    rule = item.meta["rule"]
    if rule == "multiple_choice":  # the option's text instead of its letter
        return item.meta["options"][item.answer.strip("()")]
    if rule == "numeric":
        return f"{float(Fraction(item.answer)):.9f}"  # a decimal for "1/6"
    return item.answer.upper() if rule == "exact" else f"$\\boxed{{{item.answer}}}$"


def test_eval_stage_scores_each_rule(tmp_path, tiny_model_path, monkeypatch):
    from transformers import AutoTokenizer

    cfg = compose(["stage=eval", "logger=none", "task_mix=user_example", "eval.styles=[text]",
                   f"paths.root={tmp_path}"])
    items, source_of = eval_stage.eval_items(cfg)
    assert source_of == {name: "user" for name in EXAMPLE_TASKS}
    engine = ReferenceEngine(AutoTokenizer.from_pretrained(tiny_model_path),
                             {it.question: _other_form(it) for it in items})
    monkeypatch.setattr(eval_stage, "make_engine", lambda *args: engine)
    result = eval_stage.run(validate(cfg))
    assert engine.closed and result["metric"] == 1.0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["styles"]["text"]["task_accuracy"] == {name: 1.0 for name in EXAMPLE_TASKS}


@pytest.mark.slow
def test_eval_on_the_example_mix_with_the_tiny_model(run_launch, cache_dir, tmp_path):
    """`launch.py stage=eval task_mix=user_example` with the real vLLM engine (text style: no sandbox)."""
    proc = run_launch("stage=eval", "task_mix=user_example", "task_mix.n_test_per_task=2",
                      "eval.styles=[text]", "rollout.max_tokens_per_turn=32", "model.max_response_len=128",
                      f"paths.root={tmp_path}", f"paths.cache_dir={cache_dir}", "logger=none")
    assert proc.returncode == 0, proc.stderr[-4000:]
    (out,) = [p.parent for p in tmp_path.rglob("metrics.json")]
    with open(out / "accuracy.csv") as f:
        rows = {r["task"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(EXAMPLE_TASKS)
    assert all(r["source"] == "user" and r["style"] == "text" and r["n"] == "2" for r in rows.values())
    table = (out / "results.md").read_text()
    assert "**user average (4 tasks)**" in table and all(f"| {name} |" in table for name in EXAMPLE_TASKS)
    trajs = [json.loads(x) for x in (out / "trajectories.jsonl").read_text().splitlines()]
    assert len(trajs) == 8 and all(t["reward"] is not None and t["source"] == "user" for t in trajs)
