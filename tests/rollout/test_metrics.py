"""Rollout metrics on hand-made trajectories: accuracy averages, infra exclusion, self-checking, the table."""

from __future__ import annotations

import pytest

from r1ci.rollout import metrics as M
from r1ci.rollout.reward import RewardBreakdown
from r1ci.stages.tables import paper_format_table
from r1ci.rollout.trajectory import Trajectory
from r1ci.sandbox.result import ExecResult, infra_error

OK = ExecResult("ok", "4\n", "", 0, 0.01, False)
CODE = "```python\nprint(2 + 2)\n```\n"


def traj(task: str, turns: list[str], correct: bool | None = False, infra: bool = False,
         style: str = "interpreter") -> Trajectory:
    """A trajectory of model turns; every turn but the last runs its code (ok), as the loop would.

    correct=None leaves it unscored; infra=True makes the last code call an infra error (no interpreter
    segment), as run_trajectory does.
    """
    t = Trajectory(item_id=f"{task}-x", task=task, style=style)
    t.add_prompt([1, 2, 3], "prompt")
    for i, text in enumerate(turns):
        ids = list(range(10, 10 + len(text.split())))
        t.add_model(ids, [-0.1] * len(ids), text, "stop")
        if i < len(turns) - 1:
            t.exec_results.append(OK)
            t.add_interpreter([7, 8], "Code Execution Results:\n4\n")
    if infra:
        t.exec_results.append(infra_error("test"))
        t.infra_failed, t.finish = True, "infra_error"
    if correct is not None:
        t.reward = RewardBreakdown(score=float(correct), correct=correct, well_formed=True, too_long=False,
                                   total=float(correct) + 0.1)
    return t


SOURCE_OF = {"a": "bbh", "b": "bbh", "c": "reasoning_gym"}


def sample_set() -> list[Trajectory]:
    return [
        traj("a", ["<<<1>>>"], True), traj("a", ["<<<2>>>"]), traj("a", ["<<<3>>>"]),  # a: 1/3
        traj("b", [CODE, "<<<4>>>"], True),  # b: 1
        traj("c", ["<<<no>>>"]),  # c: 0
        traj("c", [CODE], correct=True, infra=True),  # infra: excluded even though it carries a reward
        traj("c", [CODE], correct=None, infra=True),
    ]


def test_task_source_and_overall_accuracy_are_macro_averages_without_infra():
    trajs = sample_set()
    acc = M.task_accuracy(trajs)
    assert acc == pytest.approx({"a": 1 / 3, "b": 1.0, "c": 0.0})
    assert M.source_accuracy(acc, SOURCE_OF) == pytest.approx({"bbh": 2 / 3, "reasoning_gym": 0.0})
    summary = M.summarize(trajs, SOURCE_OF)
    assert summary["accuracy"] == pytest.approx((1 / 3 + 1 + 0) / 3)  # each task weighs the same
    assert summary["accuracy_micro"] == pytest.approx(2 / 5)  # each trajectory weighs the same
    assert (summary["n"], summary["n_scored"], summary["n_infra"]) == (7, 5, 2)
    assert summary["exec/infra_error"] == 2 and summary["exec/ok"] == 1
    assert summary["finish/infra_error"] == 2
    # behaviour means are over the 5 scored trajectories only
    assert summary["code_calls_mean"] == pytest.approx(1 / 5)
    assert summary["turns_mean"] == pytest.approx(6 / 5)
    assert summary["code_use_share"] == pytest.approx(1 / 5)


def test_all_infra_task_has_no_accuracy_and_empty_input_gives_none():
    only_infra = [traj("c", [CODE], correct=None, infra=True)]
    assert M.task_accuracy(only_infra) == {}
    assert M.summarize(only_infra, {"c": "reasoning_gym"})["accuracy"] is None
    assert M.accuracy([]) is None and M.macro_average({}) is None


@pytest.mark.parametrize("turns,expected", [
    (["The answer is <<<4>>>. Let me check it.\n" + CODE, "<<<4>>>"], True),  # answer, then its check runs
    (["I think <<<4>>>.", "Checking.\n" + CODE, "<<<4>>>"], True),  # answer, a later turn runs code
    ([CODE, "So <<<4>>>"], False),  # code first, answer after: ordinary use of the interpreter
    (["```python\nprint('<<<4>>>')\n```\n", "<<<4>>>"], False),  # the <<<>>> was inside code, not a claim
    (["No code at all, <<<4>>>"], False),
])
def test_self_checking_means_code_runs_after_a_candidate_answer(turns, expected):
    t = traj("a", turns, True)
    assert M.self_checked(t) is expected


def test_self_check_share_and_model_tokens():
    checked = traj("a", ["<<<4>>> check:\n" + CODE, "<<<4>>>"], True)
    plain = traj("a", [CODE, "<<<4>>>"], True)
    stats = M.behaviour([checked, plain])
    assert stats["self_check_share"] == 0.5
    assert M.model_tokens(plain) == sum(len(s.token_ids) for s in plain.model_segments)
    assert plain.response_len == M.model_tokens(plain) + 2  # + the interpreter's 2 tokens


def test_paper_format_table_groups_tasks_by_source_with_averages():
    trajs = sample_set()
    text_trajs = [traj("a", ["<<<1>>>"], True, style="text"), traj("b", ["x"], False, style="text"),
                  traj("c", ["<<<y>>>"], True, style="text")]
    per_style = {"interpreter": M.summarize(trajs, SOURCE_OF), "text": M.summarize(text_trajs, SOURCE_OF)}
    table = paper_format_table(per_style, SOURCE_OF)
    lines = table.splitlines()
    assert lines[0] == "| Task | interpreter | text |"
    assert "| a | 33.3 | 100.0 |" in lines
    assert "| **BIG-Bench-Hard average (2 tasks)** | **66.7** | **50.0** |" in lines
    assert "| **Reasoning-Gym average (1 tasks)** | **0.0** | **100.0** |" in lines
    assert lines[-1] == "| **Overall average (3 tasks)** | **44.4** | **66.7** |"
    assert lines.index("| *BIG-Bench-Hard* |  |  |") < lines.index("| *Reasoning-Gym* |  |  |")
