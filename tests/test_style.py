"""Project conventions that a grep can check (style.md #4: one home per default)."""

from __future__ import annotations

import re

from r1ci.config import CONF_DIR

PACKAGE = CONF_DIR.parent / "r1ci"


def test_no_config_lookups_with_defaults_in_code():
    """Defaults live in r1ci/config.py only; `cfg.get(key, default)` would hide a second home."""
    pattern = re.compile(r"\b\w*cfg(\.\w+)*\.get\(")
    offenders = [f"{p.relative_to(PACKAGE.parent)}:{i}" for p in PACKAGE.rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders


def test_every_stage_option_has_a_module():
    import importlib

    for yaml in (CONF_DIR / "stage").glob("*.yaml"):
        module = importlib.import_module(f"r1ci.stages.{yaml.stem}")
        assert callable(module.run), yaml.stem
