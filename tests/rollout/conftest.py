"""Rollout fixtures: a real bubblewrap sandbox with short limits, the tiny tokenizer."""

from __future__ import annotations

import pytest
import pytest_asyncio

from r1ci.config import compose
from r1ci.sandbox import make_sandbox


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_path)


@pytest_asyncio.fixture
async def sandbox():
    cfg = compose(["sandbox=local", "sandbox.timeout_s=2", "sandbox.pool_size=2"])
    async with make_sandbox(cfg.sandbox) as sb:
        yield sb


@pytest.fixture(scope="session")
def hf_engine(tiny_model_path):
    """The transformers reference engine on the tiny model, shared by the session."""
    from r1ci.rollout.engines.hf_engine import HFEngine

    engine = HFEngine(str(tiny_model_path), dtype="float32", seed=0)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def openai_server_url(hf_engine):
    """r1ci's OpenAI-compatible test server over `hf_engine`, on a free local port; yields its /v1 URL."""
    from r1ci.rollout.engines.openai_server import BackgroundServer, build_app

    with BackgroundServer(build_app(hf_engine, "tiny")) as url:
        yield url
