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
