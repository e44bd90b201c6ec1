"""The awake/asleep cycle of a rollout engine that shares its devices with the trainer.

    awake --sleep()--> asleep --wake_up(["weights"])--> weights --wake_up(["kv_cache"])--> awake
                       asleep --wake_up()-----------------------------------------------> awake

An RL step rolls out (awake), sleeps so the update has the GPU memory, wakes the weights, pushes the new
ones, wakes the KV cache, verifies the push and rolls out again (r1ci/training/grpo.py). On a GPU the
vLLM engine frees and re-allocates its memory at each edge (vLLM's sleep mode). On CPU it frees nothing,
but every engine enforces the same states: a call in the wrong one raises at once, so the CPU suite
catches the ordering bugs that would crash (or silently read freed memory) on a GPU.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Awaitable, Callable, Sequence, TypeVar

T = TypeVar("T")

TAGS = ("weights", "kv_cache")  # vLLM's wake_up tags


class EngineState(str, Enum):
    AWAKE = "awake"  # weights and KV cache resident: generate, score, update_weights
    WEIGHTS = "weights"  # weights resident, no KV cache: update_weights only
    ASLEEP = "asleep"  # nothing resident


class EngineStateError(RuntimeError):
    """An engine call made in a state that cannot serve it (see the module docstring)."""


class Lifecycle:
    state: EngineState = EngineState.AWAKE

    def require(self, call: str, *allowed: EngineState) -> None:
        if self.state not in allowed:
            raise EngineStateError(f"{type(self).__name__}.{call} needs the engine "
                                   f"{' or '.join(s.value for s in allowed)}, but it is {self.state.value}")

    def sleep(self) -> None:
        self.require("sleep", EngineState.AWAKE, EngineState.WEIGHTS)
        self._release()
        self.state = EngineState.ASLEEP

    def wake_up(self, tags: Sequence[str] | None = None) -> None:
        """All memory (tags None), or the weights from asleep, or the KV cache once the weights are up."""
        wanted = tuple(tags) if tags is not None else TAGS
        if not wanted or set(wanted) - set(TAGS):
            raise ValueError(f"wake_up tags must be among {TAGS}, got {tags!r}")
        if "weights" in wanted:
            self.require(f"wake_up({list(wanted)})", EngineState.ASLEEP)
        else:
            self.require(f"wake_up({list(wanted)})", EngineState.WEIGHTS)
        self._restore(list(wanted) if tags is not None else None)
        self.state = EngineState.WEIGHTS if wanted == ("weights",) else EngineState.AWAKE

    # Who drives an engine split over ranks (vLLM tensor parallel across ranks: vllm_engine.SPMDMirror).
    # An engine in one process is its own leader: `lead` runs the work, `share` returns what it is given.
    is_leader = True
    tp_ranks = 1  # ranks this engine's model is split over (a group of consecutive ranks)

    async def lead(self, work: Callable[[], Awaitable[T]]) -> T | None:
        return await work()

    def share(self, obj: Any) -> Any:
        return obj

    # Device work, for engines that hold memory worth freeing (vLLM on a GPU).
    def _release(self) -> None:
        pass

    def _restore(self, tags: list[str] | None) -> None:
        pass
