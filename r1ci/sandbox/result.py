"""What one code execution returns, and the per-status counters every sandbox exports."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

# ok: exit 0 | error: non-zero exit (exception, sys.exit(n)) | timeout: wall or CPU limit hit |
# oom: MemoryError under the memory limit | killed: ended by a signal (segfault, kill, output flood) |
# infra_error: the sandbox failed, not the code; such rollouts are dropped or retried, never scored 0.
STATUSES = ("ok", "error", "timeout", "oom", "killed", "infra_error")


@dataclass(frozen=True)
class ExecResult:
    status: str  # one of STATUSES
    stdout: str  # at most max_output_bytes of the stream, plus a truncation marker when cut
    stderr: str
    exit_code: int | None  # process exit code; -N when signal N ended it; None for infra errors
    wall_s: float  # wall-clock seconds of the execution (queueing excluded)
    truncated: bool  # stdout or stderr was cut at max_output_bytes

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown sandbox status {self.status!r}; expected one of {STATUSES}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExecResult:
        return cls(
            status=d["status"],
            stdout=d["stdout"],
            stderr=d["stderr"],
            exit_code=d["exit_code"],
            wall_s=float(d["wall_s"]),
            truncated=bool(d["truncated"]),
        )


def infra_error(message: str, wall_s: float = 0.0) -> ExecResult:
    """The sandbox, not the snippet, failed: callers must never score this as a wrong answer."""
    return ExecResult("infra_error", "", f"[r1ci sandbox infra error] {message}", None, wall_s, False)


def truncation_marker(omitted: int) -> str:
    return f"\n[... output truncated: {omitted} more bytes not shown]"


def with_marker(text: str, total_bytes: int, kept_bytes: int) -> tuple[str, bool]:
    """Append the truncation marker when the stream had more bytes than were kept."""
    if total_bytes > kept_bytes:
        return text + truncation_marker(total_bytes - kept_bytes), True
    return text, False


class StatusCounters(Counter):
    """Counts of results per status, every status present (0 included) so dashboards see flat lines."""

    def __init__(self) -> None:
        super().__init__({s: 0 for s in STATUSES})

    def record(self, result: ExecResult) -> ExecResult:
        self[result.status] += 1
        return result

    def as_metrics(self, prefix: str = "sandbox/") -> dict[str, int]:
        """Flat dict for W&B, plus the total and the infra-error count that alarms watch."""
        out = {f"{prefix}{s}": int(self[s]) for s in STATUSES}
        out[f"{prefix}total"] = int(sum(self[s] for s in STATUSES))
        return out
