"""BIG-Bench-Hard tasks: all 27 load from the copy shipped in the package, sample deterministically, accept the target in its
usual spellings, reject other answers, and find their data where configured (or fail clearly)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from r1ci.tasks import ANSWER_INSTRUCTION, TaskItem, bbh, extract_answer, get_task, list_tasks
from r1ci.tasks.bbh import BBH_TASKS, TASK_KINDS, load_examples, matches, set_data_dir
from r1ci.tasks.reasoning_gym import RG_TASKS
from r1ci.tasks.symbench import SYMBENCH_TASKS

SHIPPED_BBH = Path(str(resources.files("r1ci.tasks") / "data" / "bbh"))
N, SEED = 5, 7
HOSTILE = ["", " ", "x" * 1_000_000, "9" * 100_000, "[" * 5000, "((((", "<<<>>>", "None", "\x00",
           "```python\nprint(1)\n```", "[[1, 2], [3, [4]]]", "(Z)", "1e999999", "nan", "💥" * 1000]


@pytest.fixture(autouse=True)
def _default_data_dir(monkeypatch):
    """Each test starts from the default lookup (env var unset, no set_data_dir)."""
    monkeypatch.delenv("R1CI_BBH_DIR", raising=False)
    set_data_dir(None)
    yield
    set_data_dir(None)


def wrong_answer(item: TaskItem) -> str:
    """A well-formed answer of the task's kind that differs from the target."""
    kind, target = item.meta["kind"], item.answer
    if kind == "choice":
        return next((f"({k})" for k in item.meta["options"] if f"({k})" != target), "(Z)")
    flips = {"true": "False", "false": "True", "yes": "No", "no": "Yes",
             "valid": "invalid", "invalid": "valid"}
    if target.lower() in flips:
        return flips[target.lower()]
    if kind == "number":
        return str(int(target) + 1)
    if kind == "words":
        return " ".join(reversed(target.split())) if len(target.split()) > 1 else target + "x"
    return target + " )"  # dyck: one bracket too many


def test_exactly_27_registered_matching_the_data_files():
    assert len(BBH_TASKS) == 27 and set(BBH_TASKS) == set(TASK_KINDS)
    assert set(BBH_TASKS) == {p.stem for p in SHIPPED_BBH.glob("*.json")}
    assert list_tasks("bbh") == sorted(BBH_TASKS)
    assert not set(BBH_TASKS) & set(SYMBENCH_TASKS) and not set(BBH_TASKS) & set(RG_TASKS)
    assert all(get_task(n).source == "bbh" for n in BBH_TASKS)


@pytest.mark.parametrize("name", BBH_TASKS)
def test_reference_scores_one_wrong_scores_zero(name):
    task = get_task(name)
    items = task.generate(N, SEED)
    assert len(items) == N and len({it.id for it in items}) == N
    for it in items:
        assert it.question.endswith(ANSWER_INSTRUCTION) and bbh.INSTRUCTIONS[TASK_KINDS[name]] in it.question
        assert task.score(it.answer, it) == 1.0
        assert task.score(wrong_answer(it), it) == 0.0
        assert task.score("zzz", it) == 0.0 and task.score(None, it) == 0.0
        back = TaskItem.from_dict(json.loads(json.dumps(it.to_dict())))
        assert back == it and task.score(it.answer, back) == 1.0
        # A space before ">>>": a dyck answer ending in ">" would otherwise merge into the marker (">>>>").
        text = f"Reasoning.\n```python\nprint(2)\n```\nCode Execution Results: 2\nAnswer: <<<{it.answer} >>>"
        assert task.score(extract_answer(text), it) == 1.0
        for answer in HOSTILE:
            assert task.score(answer, it) == 0.0, repr(answer[:30])


@pytest.mark.parametrize("name", BBH_TASKS)
def test_seeded_sample_without_replacement(name):
    task = get_task(name)
    assert [it.id for it in task.generate(N, SEED)] == [it.id for it in task.generate(N, SEED)]
    assert [it.id for it in task.generate(N, SEED)] != [it.id for it in task.generate(N, SEED + 1)]
    everything = task.generate(10_000, SEED)  # n > available: all of them, in seeded order
    assert len(everything) == len(load_examples(name)) == len({it.id for it in everything})
    assert [it.id for it in everything[:N]] == [it.id for it in task.generate(N, SEED)]


def test_choice_spellings():
    item = next(it for it in get_task("date_understanding").generate(250, 0) if it.answer == "(B)")
    text_b = item.meta["options"]["B"]
    task = get_task("date_understanding")
    for ok in ("(B)", "B", "b", "B)", "B.", "(b)", f"(B) {text_b}", text_b, "**(B)**", f"'{text_b}'"):
        assert task.score(ok, item) == 1.0, ok
    for bad in ("(A)", "A", f"(A) {text_b}", "(B) 13/13/1313", "B C", item.meta["options"]["A"]):
        assert task.score(bad, item) == 0.0, bad


@pytest.mark.parametrize("kind,target,ok,bad", [
    ("true_false", "False", ["false", "FALSE", " False. ", "(False)"], ["True", "not False"]),
    ("yes_no", "no", ["No", "NO.", "'no'"], ["yes", "no no"]),
    ("valid_invalid", "invalid", ["Invalid", "invalid."], ["valid"]),
    ("number", "-11520", ["-11520", "-11,520", "-11520.0", " -11520 "], ["11520", "-11521", ""]),
    ("words", "barn damp it&t", ["barn damp it&t", "barn  damp\nit&t", "barn, damp, it&t", "Barn Damp It&t"],
     ["damp barn it&t", "barn damp"]),
    ("dyck", "] ) >", ["] ) >", "])>", "] , ) , >"], ["] )", ") ] >", "] ) > >"]),
])
def test_normalisation_by_kind(kind, target, ok, bad):
    assert all(matches(a, target, kind, {}) for a in ok)
    assert not any(matches(a, target, kind, {}) for a in bad)


def test_text_targets_of_split_options():
    """movie_recommendation / ruin_names have a few examples whose options were split at commas."""
    options = {"A": "Monsters", "B": "Inc", "C": "Children of the Night"}
    assert matches("Monsters, Inc", "Monsters, Inc", "choice", options)
    assert matches("monsters, inc.", "Monsters, Inc", "choice", options)
    assert not matches("(A)", "Monsters, Inc", "choice", options)


def write_task(directory: Path, name: str, examples: list[dict]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps({"examples": examples}))


def test_set_data_dir_and_env_var(tmp_path, monkeypatch):
    mine = [{"input": "Is 1 < 2?\nOptions:\n- Yes\n- No", "target": "Yes"}]
    write_task(tmp_path / "a", "navigate", mine)
    set_data_dir(tmp_path / "a")
    assert [it.answer for it in get_task("navigate").generate(5, 0)] == ["Yes"]
    set_data_dir(None)
    write_task(tmp_path / "b", "navigate", mine * 2)
    monkeypatch.setenv("R1CI_BBH_DIR", str(tmp_path / "b"))
    assert len(get_task("navigate").generate(5, 0)) == 2
    monkeypatch.delenv("R1CI_BBH_DIR")
    assert len(get_task("navigate").generate(500, 0)) == 250  # back to the shipped copy


def test_missing_or_malformed_file_is_a_clear_error(tmp_path):
    set_data_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="navigate.json"):
        get_task("navigate").generate(1, 0)
    (tmp_path / "navigate.json").write_text(json.dumps({"examples": [{"input": "x"}]}))
    with pytest.raises(ValueError, match="expected"):
        get_task("navigate").generate(1, 0)


def test_shipped_copy_is_the_default_and_complete(monkeypatch):
    """A fresh clone runs offline: with nothing configured every task reads the package's own copy,
    which holds all 27 files with their known sizes, the MIT licence and its source note."""
    assert bbh.data_dir() == bbh.PACKAGED_DIR == SHIPPED_BBH
    sizes = {name: len(load_examples(name)) for name in BBH_TASKS}
    small = {"causal_judgement": 187, "penguins_in_a_table": 146, "snarks": 178}
    assert sizes == {name: small.get(name, 250) for name in BBH_TASKS}
    assert "MIT License" in (SHIPPED_BBH / "LICENSE").read_text()
    assert "suzgunmirac/BIG-Bench-Hard" in (SHIPPED_BBH / "SOURCE.md").read_text()
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"data/bbh/*.json"' in pyproject  # package data: a wheel install carries the files too
