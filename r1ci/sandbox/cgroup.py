"""A memory cgroup per worker: a cap on the memory of *all* of an execution's processes together.

RLIMIT_AS bounds each process; a snippet that forks 60 children could still take 60 x memory_mb of the
host. The worker's jail (bwrap, zygote, the children) runs in its own memory cgroup capped at
memory_mb + the zygote's own footprint; tmpfs pages written to /tmp count too. When the cap is hit the
kernel kills a process of that cgroup: each child raises its oom_score_adj to 1000 (the zygote keeps
0, or -1000 where allowed), so the snippet's processes go first and the host never notices.

Best effort: needs a writable cgroup v1 memory hierarchy or cgroup v2 with the memory controller
enabled at its root; elsewhere the pool runs with per-process limits only and says so once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)
V1_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")
GROUP = "r1ci-sandbox"


class MemoryCgroup:
    """One worker's cgroup: its path, the file holding the cap, and how to read the OOM-kill count."""

    def __init__(self, path: Path, v2: bool) -> None:
        self.path, self.v2 = path, v2

    @classmethod
    def create(cls, name: str, limit_bytes: int) -> MemoryCgroup | None:
        """Make (or reuse) the cgroup and set its cap; None where no memory cgroup can be written."""
        for root, v2 in ((V2_ROOT, True), (V1_ROOT, False)):
            if not _usable(root, v2):
                continue
            path = root / GROUP / name
            try:
                if v2:
                    _enable_memory_controller(root / GROUP)
                _remove_stale(root / GROUP)
                path.mkdir(parents=True, exist_ok=True)
                group = cls(path, v2)
                group.set_limit(limit_bytes)
                return group
            except OSError as e:
                log.debug("memory cgroup under %s unusable: %r", root, e)
        return None

    def set_limit(self, limit_bytes: int) -> None:
        if self.v2:
            (self.path / "memory.max").write_text(str(limit_bytes))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")
        else:
            (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            swap = self.path / "memory.memsw.limit_in_bytes"  # exists only with swap accounting
            if swap.exists():
                swap.write_text(str(limit_bytes))

    @property
    def procs_file(self) -> str:
        return str(self.path / "cgroup.procs")

    def oom_kills(self) -> int:
        """How many processes the kernel has OOM-killed in this cgroup so far."""
        name, key = ("memory.events", "oom_kill") if self.v2 else ("memory.oom_control", "oom_kill")
        try:
            for line in (self.path / name).read_text().splitlines():
                k, _, v = line.partition(" ")
                if k == key:
                    return int(v)
        except OSError:
            pass
        return 0

    async def remove(self, wait_s: float = 5.0) -> None:
        """Delete the cgroup once the jail's last processes have left it (they die asynchronously)."""
        for _ in range(int(wait_s / 0.05)):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY: still populated
                await asyncio.sleep(0.05)
        log.warning("could not remove %s: still in use", self.path)


def _usable(root: Path, v2: bool) -> bool:
    if v2:
        controllers = root / "cgroup.controllers"
        return (
            controllers.exists() and "memory" in controllers.read_text().split() and os.access(root, os.W_OK)
        )
    return (root / "memory.limit_in_bytes").exists() and os.access(root, os.W_OK)


def _remove_stale(group: Path) -> None:
    """Empty cgroups left by pools whose process is gone (killed before it could clean up)."""
    if not group.is_dir():
        return
    for sub in group.iterdir():
        owner = sub.name.split("-")[0]
        if sub.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                sub.rmdir()
            except OSError:
                pass  # still has processes: leave it


def _enable_memory_controller(group: Path) -> None:
    """cgroup v2: children of `group` can only be capped if `group` delegates the memory controller."""
    group.mkdir(exist_ok=True)
    subtree = group / "cgroup.subtree_control"
    if "memory" not in subtree.read_text().split():
        subtree.write_text("+memory")


def jail_prefix(group: MemoryCgroup | None) -> list[str]:
    """argv prefix that moves the new process into `group` before it forks anything, and protects it
    from the OOM killer where the host allows (needs CAP_SYS_RESOURCE). Its snippet children raise their
    own score to the maximum (child.py), so they are picked first either way."""
    join = f'echo $$ > "{group.procs_file}" && ' if group is not None else ""
    script = f'{{ echo -1000 > /proc/self/oom_score_adj; }} 2>/dev/null; {join}exec "$@"'
    return ["/bin/sh", "-c", script, "r1ci-jail"]
