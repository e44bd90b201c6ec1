"""Training fixtures: small multi-turn conversations in the synth stage's format, in-process engines."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import pytest

from r1ci.config import Config, compose, validate

SYSTEM = ("You are a helpful assistant with a Python code interpreter. Reason step by step. End with the "
          "final answer in <<<answer>>> format.")
DIST_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def make_conversations(n: int, seed: int = 0) -> list[dict]:
    """Arithmetic questions answered as the rollout would: code, interpreter output, answer; every third
    one first runs a failing program and fixes it (two code calls)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        q = f"What is {a} * {b}? Give your final answer wrapped in triple angle brackets, like <<<answer>>>."
        msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}]
        if i % 3 == 2:
            msgs += [{"role": "assistant", "content": f"Let me compute this with code.\n```python\nprint({a} * b)\n```\n"},
                     {"role": "interpreter", "content": "Code Execution Results:\nNameError: name 'b' is not defined\n"}]
        msgs += [{"role": "assistant", "content": f"Let me compute this with code.\n```python\nprint({a} * {b})\n```\n"},
                 {"role": "interpreter", "content": f"Code Execution Results:\n{a * b}\n"},
                 {"role": "assistant", "content": f"The answer is <<<{a * b}>>>"}]
        rows.append({"item_id": f"mul-{i}", "task": "multiply", "messages": msgs})
    return rows


def write_sft_jsonl(directory: Path, rows: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def clean_env(**extra: str) -> dict:
    """Environment for a child run: no rank variables left over from an in-process engine."""
    env = {k: v for k, v in os.environ.items() if k not in DIST_ENV}
    return {**env, **extra}


def launch(repo_root: Path, *overrides: str, env: dict | None = None, timeout: int = 600, torchrun: int = 0):
    """`python launch.py ...` (or `torchrun --nproc_per_node N launch.py ...`) as a user would run it."""
    import subprocess

    cmd = [sys.executable, "launch.py", *overrides]
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={torchrun}",
               "--standalone", *cmd[1:]]
    return subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=timeout,
                          env=env or clean_env(), check=False)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_path)


@pytest.fixture
def restore_env():
    """In-process engines export rank variables; give later tests the environment back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def tiny_cfg(tmp_path: Path, cache_dir: Path, *overrides: str) -> Config:
    """The typed config launch.py would hand a stage."""
    return validate(compose(["stage=sft", "model=tiny", "logger=none", f"paths.root={tmp_path}",
                             f"paths.cache_dir={cache_dir}", *overrides]))
