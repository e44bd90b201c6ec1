"""Task registry keyed by name; each source module registers its tasks when imported."""

from __future__ import annotations

import importlib
from typing import Callable

from r1ci.tasks.base import SOURCES, Task

_FACTORIES: dict[str, tuple[str, Callable[[], Task]]] = {}
_INSTANCES: dict[str, Task] = {}
# Source name -> module whose import registers that source's tasks (imported lazily: reasoning-gym is slow).
_SOURCE_MODULES = {
    "symbench": "r1ci.tasks.symbench",
    "bbh": "r1ci.tasks.bbh",
    "reasoning_gym": "r1ci.tasks.reasoning_gym",
}
_loaded: set[str] = set()
_USER: set[str] = set()  # names registered by register_user (r1ci/tasks/user_jsonl.py)


def register(name: str, source: str, factory: Callable[[], Task]) -> None:
    """Register a task under a unique name (a factory, so unused tasks cost nothing)."""
    if source not in SOURCES:
        raise ValueError(f"unknown task source {source!r}; expected one of {SOURCES}")
    if name in _FACTORIES and _FACTORIES[name][0] != source:
        raise ValueError(f"task name {name!r} already registered by source {_FACTORIES[name][0]!r}")
    _FACTORIES[name] = (source, factory)


def register_user(name: str, source: str, factory: Callable[[], Task]) -> None:
    """Register a user-data task under any source label (tables show it). Registering a user task's name
    again replaces it (the config changed); a built-in task's name is refused."""
    _load(None)
    if name in _FACTORIES and name not in _USER:
        raise ValueError(f"user task name {name!r} is taken by the built-in {_FACTORIES[name][0]} task of "
                         f"that name; give task_mix.user_tasks another name")
    _FACTORIES[name] = (source, factory)
    _INSTANCES.pop(name, None)
    _USER.add(name)


def _load(source: str | None) -> None:
    for src in SOURCES if source is None else (source,):
        if src not in _loaded:
            importlib.import_module(_SOURCE_MODULES[src])
            _loaded.add(src)


def list_tasks(source: str | None = None) -> list[str]:
    """Registered task names, sorted; `source` narrows to one source."""
    if source is not None and source not in SOURCES:
        raise ValueError(f"unknown task source {source!r}; expected one of {SOURCES}")
    _load(source)
    return sorted(n for n, (s, _) in _FACTORIES.items() if source is None or s == source)


def get_task(name: str) -> Task:
    """The task instance for `name` (created once)."""
    if name not in _FACTORIES:
        _load(None)
    if name not in _FACTORIES:
        raise KeyError(f"unknown task {name!r}; see r1ci.tasks.list_tasks()")
    if name not in _INSTANCES:
        _INSTANCES[name] = _FACTORIES[name][1]()
    return _INSTANCES[name]


def task_source(name: str) -> str:
    get_task(name)
    return _FACTORIES[name][0]
