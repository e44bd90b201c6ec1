"""The uids a local pool's snippets run as: one per worker, held by no other pool on this host.

RLIMIT_NPROC counts a uid's processes across the whole host, not per pool. Two pools on one machine
(two ranks of a job, two jobs on a node, the test suite beside the sandbox benchmark) that both ran
worker i as `uid_base + i` would share worker i's process budget: a fork bomb in one pool would leave
the same slot of the other unable to start a thread. So each pool leases its uids: it takes the lowest
uids from `uid_base` up that no host account owns and no other pool holds, each held by an exclusive
flock on a lock file every process on the host sees. The kernel drops a lock when its holder dies, so
a killed job never keeps its uids. Pools in separate mount namespaces (containers with their own
/run) do not see each other's locks; give those distinct `sandbox.uid_base` values.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import stat
from pathlib import Path

from r1ci.sandbox.bwrap import SandboxUnavailable

LOCK_DIR = Path("/run/lock/r1ci-sandbox")  # /run/lock: the FHS place for host-wide lock files
FALLBACK_LOCK_DIR = Path("/tmp/r1ci-sandbox-locks")  # where /run/lock does not exist
SCAN_LIMIT = 4096  # uids tried above uid_base before giving up


def host_account(uid: int) -> bool:
    """A uid the host's passwd names (nobody, a service): a snippet must never share its processes."""
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def check_owned(lock_dir: Path) -> None:
    """/run/lock is world-writable: a lock directory someone else made (or a symlink planted there)
    could steer root's file creation, so only our own, not group/other-writable directory is used."""
    st = lock_dir.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SandboxUnavailable(
            f"sandbox: {lock_dir} (uid leases) must be a directory owned by uid {os.geteuid()} and writable "
            "by it alone; remove it and start again"
        )


class UidLease:
    """`count` distinct uids >= `base`, held until release() or until this process exits."""

    def __init__(self, base: int, count: int, lock_dir: Path | None = None) -> None:
        self.lock_dir = lock_dir or (LOCK_DIR if LOCK_DIR.parent.is_dir() else FALLBACK_LOCK_DIR)
        self.lock_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        check_owned(self.lock_dir)
        self.uids: list[int] = []
        self._fds: list[int] = []
        for uid in range(base, base + SCAN_LIMIT):
            if not host_account(uid) and self._try_lock(uid):
                self.uids.append(uid)
                if len(self.uids) == count:
                    return
        self.release()
        raise SandboxUnavailable(
            f"sandbox: fewer than {count} free uids in [{base}, {base + SCAN_LIMIT}) "
            f"(other pools hold their locks in {self.lock_dir}); lower sandbox.pool_size or move sandbox.uid_base"
        )

    def _try_lock(self, uid: int) -> bool:
        fd = os.open(self.lock_dir / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                     0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # per open file: two pools in one process conflict too
        except BlockingIOError:
            os.close(fd)
            return False
        self._fds.append(fd)
        return True

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)  # closing the only descriptor drops the flock
        self._fds.clear()
