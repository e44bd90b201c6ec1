"""Build the bubblewrap command line that jails one warm worker.

What the jail sees: /usr (and the /bin, /lib... links to it), the Python runtime, the site-packages it
imports from (mounted at /opt/r1ci/site*, so no project path is visible), a few /etc files, a fresh /proc
of its own pid namespace, a minimal /dev, and a tmpfs /tmp. Not the project, not /root or /home, not
the host's /etc/shadow, not the host's processes; no network (empty net namespace), a clean environment.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
from dataclasses import dataclass
from pathlib import Path

JAIL_SOURCES = (Path(__file__).with_name("child.py"), Path(__file__).with_name("zygote.py"))
SITE_MOUNT = "/opt/r1ci/site"
# /etc files that Python and its C libraries read; nothing else of the host's /etc is mounted.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "nsswitch.conf")
TOP_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# The zygote keeps only what it uses; each snippet's child drops all of them and its bounding set:
# SETUID/SETGID to drop to the worker's uid, SYS_ADMIN + SYS_CHROOT for each execution's own pid and
# mount namespaces (unshare, mount, setns back), KILL to end an execution, SETPCAP to empty the bounding set.
ZYGOTE_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_SETPCAP")
# `python -c` program that loads child.py and zygote.py from argv (no file of the project in the jail).
BOOTSTRAP = """\
import sys, types
for name, src in (("r1ci_sandbox_child", sys.argv[2]), ("r1ci_sandbox_zygote", sys.argv[3])):
    mod = sys.modules[name] = types.ModuleType(name)
    exec(compile(src, name + ".py", "exec"), mod.__dict__)
del sys.argv[2:]
sys.modules["r1ci_sandbox_zygote"].main(sys.argv[1])
"""
CLEAN_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "USER": "sandbox",
    "LOGNAME": "sandbox",
    "LANG": "C.UTF-8",
    "TMPDIR": "/tmp",
    # One BLAS/OpenMP thread: many workers share the cores, and OpenBLAS' per-thread buffers would
    # otherwise fail under RLIMIT_AS/RLIMIT_NPROC (a known failure of other sandboxes).
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
}

INSTALL_HINT = (
    "bubblewrap (`bwrap`) was not found on PATH. Install it with `apt-get install bubblewrap` "
    "(or run `bash scripts/setup.sh`), use `sandbox=remote` to run code on sandbox servers, or "
    "choose `sandbox=unsafe` explicitly to run code WITHOUT isolation."
)


class SandboxUnavailable(RuntimeError):
    """The local sandbox cannot start on this machine; the message says what to do."""


def find_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(INSTALL_HINT)
    if os.geteuid() != 0:
        # Without root there is no second uid to drop to (stack-notes SECURITY); see docs/sandbox.md.
        raise SandboxUnavailable(
            "the local sandbox drops each snippet to its own unprivileged uid and needs to be started as "
            "root for that (as in the project's containers); otherwise use `sandbox=remote` against a "
            "sandbox server started as root, or `sandbox=unsafe` explicitly (no isolation)."
        )
    return path


@dataclass(frozen=True)
class PythonRuntime:
    """The interpreter and package dirs the jail mounts (read-only)."""

    executable: str  # resolved interpreter binary
    prefix: str  # its installation (stdlib, libpython), mounted at the same path
    site_dirs: tuple[str, ...]  # host site-packages, mounted at SITE_MOUNT<i>

    @classmethod
    def current(cls) -> PythonRuntime:
        dirs = [d for d in site.getsitepackages() if os.path.isdir(d)]
        return cls(os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix), tuple(dirs))

    def mounted_site_dirs(self) -> list[str]:
        return [f"{SITE_MOUNT}{i}" for i in range(len(self.site_dirs))]


def passwd_files(uid: int) -> dict[str, str]:
    """/etc/passwd and /etc/group naming only root and the snippet's uid (getpass, pwd work)."""
    return {
        "/etc/passwd": (
            f"root:x:0:0:root:/:/usr/sbin/nologin\nsandbox:x:{uid}:{uid}::/tmp:/usr/sbin/nologin\n"
        ),
        "/etc/group": f"root:x:0:\nsandbox:x:{uid}:\n",
    }


def parent_dirs(paths: list[str]) -> list[str]:
    """Every ancestor of the mount points, outermost first (bwrap would create them mode 0700)."""
    out: list[str] = []
    for p in paths:
        parts = Path(p).parts[1:-1]
        for i in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:i])
            if d not in out and d != "/usr":
                out.append(d)
    return out


def mount_args(runtime: PythonRuntime) -> list[str]:
    bind_prefix = not runtime.prefix.startswith("/usr/")
    dests = [runtime.prefix] * bind_prefix + [*runtime.mounted_site_dirs(), "/etc/passwd"]
    args: list[str] = []
    for d in parent_dirs(dests):
        args += ["--perms", "0755", "--dir", d]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in TOP_DIRS:
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    if bind_prefix:
        args += ["--ro-bind", runtime.prefix, runtime.prefix]
    for host_dir, dest in zip(runtime.site_dirs, runtime.mounted_site_dirs()):
        args += ["--ro-bind", host_dir, dest]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def bwrap_argv(bwrap: str, runtime: PythonRuntime, settings_json: str, data_fds: dict[str, int]) -> list[str]:
    """Full argv: namespaces, mounts, capabilities, then `python -I -S -c BOOTSTRAP settings child zygote`.

    `data_fds` maps in-jail paths to fds whose contents bwrap copies there read-only (--ro-bind-data).
    /tmp and /dev/shm get a fresh size-capped tmpfs per execution (zygote.py); the zygote's own is tiny.
    """
    args = [
        bwrap,
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    args += mount_args(runtime)
    for dest, fd in data_fds.items():
        args += ["--ro-bind-data", str(fd), dest]
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(1 << 20),
        "--tmpfs",
        "/tmp",
        "--remount-ro",
        "/",
    ]
    args += ["--cap-drop", "ALL"]
    for cap in ZYGOTE_CAPS:
        args += ["--cap-add", cap]
    # -I: no user site, no PYTHON* variables, no cwd on sys.path; -S: the zygote adds the mounted
    # site-packages itself.
    args += ["--chdir", "/tmp", runtime.executable, "-I", "-S", "-c", BOOTSTRAP, settings_json]
    return args + [p.read_text() for p in JAIL_SOURCES]
