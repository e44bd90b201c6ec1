"""Shared fixtures. Expensive things (tiny model, vLLM engine) are built once per session."""

from __future__ import annotations

import os
from pathlib import Path

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
