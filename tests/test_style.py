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


def _layers() -> dict[str, int]:
    """docs/architecture.md's layer list: package (or top-level module) -> its layer, 1 the lowest."""
    doc = (CONF_DIR.parent / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^  (\d) ([a-z_ ]+)$", doc.split("Layers, lowest first.", 1)[1], re.M)
    return {name: int(level) for level, names in rows for name in names.split()}


def _imports(path) -> set[str]:
    """The r1ci packages (or top-level modules) that a file imports, at any depth of the file."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "r1ci" else [f"r1ci.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("r1ci.")}
    return found


def test_no_module_imports_a_higher_layer():
    """Lower layers never import stages or training (docs/architecture.md), so each layer can be read,
    tested and reused without the ones above it."""
    layers = _layers()
    top_level = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
                 if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    missing = top_level - layers.keys()
    assert not missing, f"give these a layer in docs/architecture.md: {missing}"
    offenders = [f"{p.relative_to(PACKAGE.parent)}: {here} ({layers[here]}) imports {dep} ({layers[dep]})"
                 for p in PACKAGE.rglob("*.py")
                 for here in [p.relative_to(PACKAGE).with_suffix("").parts[0]]
                 for dep in _imports(p) if layers[dep] > layers[here]]
    assert not offenders, offenders
