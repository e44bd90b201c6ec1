"""Shared fixtures. Expensive things (tiny model, vLLM engine) are built once per session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parent.parent

# Offline W&B, in-process single-core vLLM on CPU (stack-notes.md): set before anything imports them.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One model cache per test session (CI: a fresh machine, so the tiny model is really built)."""
    return tmp_path_factory.mktemp("r1ci-cache")


@pytest.fixture(scope="session")
def tiny_model_path(cache_dir) -> Path:
    from r1ci.models.tiny import build_tiny_model

    return build_tiny_model(cache_dir)


@pytest.fixture(scope="session")
def tiny_vllm(tiny_model_path):
    """A synchronous vLLM engine on the tiny model (CPU, in-process)."""
    from vllm import LLM

    llm = LLM(model=str(tiny_model_path), dtype="float32", enforce_eager=True, max_model_len=1024,
              distributed_executor_backend="uni", seed=0)
    yield llm
    del llm


@pytest.fixture(scope="session")
def run_launch(repo_root, cache_dir):
    """`run_launch(*overrides, env=None, timeout=600)`: run `python launch.py ...` as a user would.

    The tiny model is cached in the session's cache dir, so each launch does not rebuild it.
    """
    import subprocess
    import sys

    def _run(*overrides: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "R1CI_CACHE": str(cache_dir), **(env or {})}
        return subprocess.run([sys.executable, "launch.py", *overrides], cwd=repo_root, capture_output=True,
                              text=True, timeout=timeout, env=full_env)

    return _run


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_path):
    """r1ci's async vLLM engine on the tiny model (CPU, in-process), shared by the session."""
    from r1ci.rollout.engines.vllm_engine import VLLMEngine

    engine = VLLMEngine(str(tiny_model_path), dtype="float32", max_model_len=1024, seed=0)
    yield engine
    engine.close()


class AnsweringModel(NamedTuple):
    path: Path
    task: str  # answered True or False: the model is right half the time

    @property
    def overrides(self) -> list[str]:
        """RL on this model's task, with groups of 4 (so few carry no signal)."""
        return [f"model.path={self.path}", f"task_mix.tasks=[{self.task}]", "grpo.group_size=4",
                "model.max_response_len=192"]


@pytest.fixture(scope="session")
def answering_model(tiny_model_path, cache_dir) -> AnsweringModel:
    """The tiny model taught, in 60 seeded AdamW steps (~15 s), to answer any boolean_expressions prompt
    of the default RL style with `<<<True>>>` or `<<<False>>>` at random. RL tests need it: the random tiny
    model never answers, so its groups score a constant -0.1, the policy never moves, and a resume that
    restored nothing would pass. Here half the answers are right, groups have variance, every step moves
    the weights."""
    return _teach_answers(tiny_model_path, cache_dir / f"answering-{tiny_model_path.name}", code_share=0.0)


@pytest.fixture(scope="session")
def coding_model(tiny_model_path, cache_dir) -> AnsweringModel:
    """The answering model's twin that, about half the time, first runs a ```python block (printing True or
    False) in the sandbox and answers after the interpreter's output: multi-turn rollouts that wait on the
    sandbox, for the tests of the rollout schedule across ranks."""
    return _teach_answers(tiny_model_path, cache_dir / f"coding-{tiny_model_path.name}", code_share=0.5,
                          steps=150)


def _teach_answers(tiny_model_path: Path, out: Path, code_share: float, steps: int = 60) -> AnsweringModel:
    """Teach the tiny model, with the loss on its own turns only, to answer `<<<True>>>`/`<<<False>>>` at
    random, directly or (with probability `code_share`) after a code call and its output."""
    import random

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1ci.config import compose
    from r1ci.rollout.loop import InterpreterFormatter, Style, render_prompt
    from r1ci.sandbox.result import ExecResult
    from r1ci.tasks import get_task

    task = "boolean_expressions"
    if (out / "config.json").exists():
        return AnsweringModel(out, task)
    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    cfg = compose(["stage=rl"])
    style = Style.from_prompts(cfg.prompts, cfg.rollout.style)
    prompts = [render_prompt(tok, style, it.question) for it in get_task(task).generate(32, seed=1)]
    fmt = InterpreterFormatter(tok, max_tokens=64)

    def enc(text: str) -> list[int]:
        return tok.encode(text, add_special_tokens=False)

    def reply(rng: random.Random) -> list[tuple[list[int], bool]]:
        """The response as (token ids, trained on) pieces."""
        answer = ("True", "False")[rng.randrange(2)]
        if code_share and rng.random() < code_share:
            printed, _ = fmt.render(ExecResult("ok", f"{answer}\n", "", 0, 0.0, False))
            return [(enc(f"```python\nprint({answer})\n```\n"), True), (printed, False),
                    (enc(f"<<<{answer}>>><|im_end|>"), True)]
        return [(enc(f"<<<{answer}>>><|im_end|>"), True)]

    rng, opt = random.Random(0), torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        batch = [(p, reply(rng)) for p in rng.sample(prompts, 8)]
        seqs = [(p + [t for ids, _ in r for t in ids], [False] * len(p) + [on for ids, on in r for _ in ids])
                for p, r in batch]
        width = max(len(ids) for ids, _ in seqs)
        ids = torch.full((len(batch), width), tok.pad_token_id)
        labels, mask = torch.full_like(ids, -100), torch.zeros_like(ids)
        for b, (seq, trained) in enumerate(seqs):
            ids[b, :len(seq)] = torch.tensor(seq)
            labels[b, :len(seq)] = torch.where(torch.tensor(trained), torch.tensor(seq), -100)
            mask[b, :len(seq)] = 1
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    for f in tmp.iterdir():  # other uids (the sandbox, SLURM jobs) read it too
        f.chmod(0o644)
    tmp.chmod(0o755)
    tmp.rename(out)
    return AnsweringModel(out, task)
