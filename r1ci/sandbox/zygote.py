"""The warm worker inside bubblewrap: import the scientific stack once, fork an isolated child per snippet.

Standard library only, never imported by the host at run time: bwrap.py passes this file's and child.py's
sources to `python -I -S -c BOOTSTRAP`, so the jail needs no view of the project's files. Protocol on
the zygote's stdin/stdout (moved off fds 0/1 at start): frames of a 4-byte big-endian length + UTF-8 JSON.

Privilege model (stack-notes.md, SECURITY): bwrap runs as root *without* a user namespace, so the snippet
can get another uid than the zygote, which keeps only the capabilities it uses (bwrap.ZYGOTE_CAPS).
Each execution gets its own
  * PID namespace, whose pid 1 is a `sleep` we kill afterwards: the kernel then kills everything the
    snippet started (daemons, fork bombs) at once; the zygote never switches uid, which would open a
    window in which the snippet's processes could signal it;
  * mount namespace, with fresh size-capped tmpfs on /tmp and /dev/shm and a /proc of its own pid
    namespace; it is torn down when the `sleep` dies, *after* the result is sent (the teardown waits for
    an RCU grace period, ~8 ms on a busy 2-core VM);
  * unprivileged uid (child.py). Being root, the zygote cannot be signalled or ptraced by the snippet,
    so a snippet cannot make its own run look like an infra error by killing its worker.
Children are forked one execution ahead, so the fork overlaps the running snippet.
"""

import errno
import json
import os
import select
import signal
import struct
import time

try:  # in the jail, the bootstrap registers child.py under this flat name
    import r1ci_sandbox_child as child_mod
except ImportError:  # on the host (tests import this module)
    from r1ci.sandbox import child as child_mod

CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_NOSUID, MS_NODEV = 0x2, 0x4
READ_CHUNK = 1 << 16
INIT_ARGV = ["/usr/bin/sleep", "infinity"]  # pid 1 of each execution's pid namespace
READY_TIMEOUT_S = 30.0  # a forked child that has not finished its setup by then is broken
_libc = child_mod._libc
check = child_mod.check


# ---------------------------------------------------------------- framing
def recv(fd: int):
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def _read_exact(fd: int, n: int):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def send(fd: int, msg: dict) -> None:
    body = json.dumps(msg).encode()
    data = struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


# ---------------------------------------------------------------- children
class Capture:
    """Keep the first `limit` bytes of a stream, count the rest."""

    def __init__(self, limit: int) -> None:
        self.limit, self.kept, self.total = limit, bytearray(), 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


class ChildFds:
    """The pipes between the zygote and one child: code in; stdout, stderr, status byte out."""

    def __init__(self) -> None:
        self.code_r, self.code_w = os.pipe()
        self.out_r, self.out_w = os.pipe()
        self.err_r, self.err_w = os.pipe()
        self.st_r, self.st_w = os.pipe()
        self.ready_r, self.ready_w = os.pipe()

    def close_child_ends(self) -> None:
        for fd in (self.code_r, self.out_w, self.err_w, self.st_w, self.ready_w):
            os.close(fd)

    def close_ours(self) -> None:
        for fd in (self.code_w, self.out_r, self.err_r, self.st_r, self.ready_r):
            if fd >= 0:
                os.close(fd)
        self.code_w = self.out_r = self.err_r = self.st_r = self.ready_r = -1


class Home:
    """The zygote's own namespaces, to return to after creating a child's."""

    def __init__(self) -> None:
        self.mnt = os.open("/proc/self/ns/mnt", os.O_RDONLY)
        self.pid = os.open("/proc/self/ns/pid", os.O_RDONLY)

    def go_back(self) -> None:
        try:
            check(_libc.setns(self.mnt, CLONE_NEWNS), "setns(mnt)")
            check(_libc.setns(self.pid, CLONE_NEWPID), "setns(pid)")
        except OSError as e:  # stuck in a child's namespaces: this worker must not serve again
            os.write(2, f"zygote cannot return to its namespaces: {e!r}\n".encode())
            os._exit(75)


class Child:
    """A forked child waiting for its code, pid `pid` in fresh pid + mount namespaces whose pid 1 is `init`.

    The child stays *our* child (we get its exit status); orphans go to `init`; killing `init` makes the
    kernel kill every process of the namespace and, once they are gone, free the namespaces.
    """

    def __init__(self, s: dict, home: Home) -> None:
        self.fds = ChildFds()
        self.init = self.pid = None
        try:
            check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare(mnt, pid)")
            try:
                for path in (b"/tmp", b"/dev/shm"):
                    opts = f"size={s['tmp_size_mb']}m,mode=1777".encode()
                    check(_libc.mount(b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV, opts), f"mount {path}")
                self.init = os.posix_spawn(INIT_ARGV[0], INIT_ARGV, {})
                self.pid = os.fork()
                if self.pid == 0:
                    child_mod.child_main(s, self.fds)  # never returns
            finally:
                home.go_back()
        except BaseException:
            self.discard()
            raise
        finally:
            if self.pid != 0:
                self.fds.close_child_ends()

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the child has finished its setup; raise with its error when it failed to."""
        ready, _, _ = select.select([self.fds.ready_r], [], [], timeout_s)
        if ready and os.read(self.fds.ready_r, 1) == child_mod.ST_READY:
            return
        err = _read_available(self.fds.err_r).decode(errors="replace").strip()
        raise RuntimeError(err or f"child not ready after {timeout_s:.0f} s")

    def start(self, code: str) -> None:
        data = b"R" + code.encode("utf-8", errors="surrogateescape")
        try:
            while data:
                data = data[os.write(self.fds.code_w, data) :]
        except BrokenPipeError:
            pass  # the child died in setup: its status byte says so
        os.close(self.fds.code_w)
        self.fds.code_w = -1

    def kill_namespace(self) -> None:
        if self.init is not None:
            os.kill(self.init, signal.SIGKILL)

    def discard(self) -> None:
        """Kill and reap an unused child (worker shutting down, or a failed start)."""
        self.kill_namespace()
        for pid in (self.pid, self.init):
            if pid:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
        self.fds.close_ours()


# ---------------------------------------------------------------- one execution
def execute(s: dict, child: Child, code: str, timeout_s: float, prepare_next) -> dict:
    """Run `code` in the waiting `child`; fork the next child while it runs; collect the result.

    Returns as soon as the snippet is done: its namespaces are killed, and the child (if it announced
    its exit code and is still tearing down its copy of our address space) and init are reaped later.
    """
    fds = child.fds
    t0 = time.monotonic()
    child.start(code)
    prepare_next()
    out, err = Capture(s["max_output_bytes"]), Capture(s["max_output_bytes"])
    status = bytearray()
    try:
        verdict = _supervise(s, child, {fds.out_r: out, fds.err_r: err}, status, t0 + timeout_s)
        wstatus = None if verdict == "done" else os.waitpid(child.pid, 0)[1]
        wall = time.monotonic() - t0
        child.kill_namespace()  # whatever the snippet left behind
        DYING.extend([child.pid] * (wstatus is None) + [child.init])  # child first: init waits for it
        if verdict in ("timeout", "runaway"):  # maybe many processes dying: wait before the next run
            NOISY.append(child.init)
        _drain_available({fds.out_r: out, fds.err_r: err}, s["runaway_output_bytes"])
        status += _read_available(fds.st_r)
    finally:
        fds.close_ours()
    result, exit_code = classify(verdict, wstatus, bytes(status))
    note = (
        f"\n[r1ci sandbox: killed after {out.total + err.total} bytes of output]"
        if verdict == "runaway"
        else ""
    )
    return {
        "status": result,
        "exit_code": exit_code,
        "wall_s": wall,
        "stdout": out.text(),
        "stderr": err.text() + note,
        "stdout_bytes": out.total,
        "stderr_bytes": err.total,
    }


def _supervise(s: dict, child: Child, caps: dict, status: bytearray, deadline: float) -> str:
    """Drain the child's output and status pipe until it announces its exit code ("done"), exits
    ("exited"), runs out of time ("timeout") or floods us ("runaway"); the last two kill its namespace."""
    pidfd = os.pidfd_open(child.pid)
    runaway = s["runaway_output_bytes"]
    verdict = "exited"
    st_r = child.fds.st_r
    try:
        open_fds = set(caps) | {st_r}
        while True:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select(list(open_fds) + [pidfd], [], [], left)
            if pidfd in ready:  # checked first: a child that ended in time is never a timeout
                break
            if not ready:
                verdict = "timeout"
                break
            for fd in ready:
                data = os.read(fd, READ_CHUNK)
                if not data:
                    open_fds.discard(fd)
                elif fd == st_r:
                    status += data
                else:
                    caps[fd].feed(data)
            if announced_exit(bytes(status)) is not None:
                verdict = "done"
                break
            if sum(c.total for c in caps.values()) > runaway:
                verdict = "runaway"
                break
    finally:
        os.close(pidfd)
    if verdict in ("timeout", "runaway"):
        child.kill_namespace()
    return verdict


def announced_exit(status: bytes):
    """The exit code the child announced (ST_DONE + one byte) after flushing its output, or None."""
    i = status.find(child_mod.ST_DONE)
    return status[i + 1] if 0 <= i < len(status) - 1 else None


def _drain_available(caps: dict, limit: int) -> None:
    """Read what the pipes hold now (what a background process writes later is dropped with it)."""
    for fd, cap in caps.items():
        os.set_blocking(fd, False)
        while cap.total <= limit:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                break
            if not data:
                break
            cap.feed(data)


def _read_available(fd: int, n: int = 4096) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, n)
    except BlockingIOError:
        return b""


def classify(verdict: str, wstatus, status: bytes):
    """Map how the child ended to (status, exit_code); exit_code is -signal when a signal ended it."""
    if verdict == "done":
        code = announced_exit(status)
    elif os.WIFSIGNALED(wstatus):
        sig = os.WTERMSIG(wstatus)
        if verdict == "timeout" or sig == signal.SIGXCPU:
            return "timeout", -sig
        return "killed", -sig
    else:
        code = os.WEXITSTATUS(wstatus)
    if verdict == "timeout":
        return "timeout", code
    if verdict == "runaway":
        return "killed", code
    if code == 0:
        return "ok", 0
    return ("oom" if child_mod.ST_OOM in status else "error"), code


DYING: list = []  # children and inits of finished executions, killed but not yet reaped
NOISY: list = []  # inits of executions that timed out or flooded: maybe many processes still dying


def reap_inits() -> None:
    """Collect finished children and killed inits; once an init is reaped, its namespaces and every
    process in them are gone (an init's exit waits for its child to be reaped, hence the order).

    Called before each execution. Not blocking for ordinary ones: the mount namespace's teardown (an
    RCU grace period) then overlaps the next execution instead of delaying it. After a timeout or an
    output flood, many processes may still be dying, and they count against RLIMIT_NPROC: then wait.
    """
    for pid in list(DYING):
        try:
            done = os.waitpid(pid, 0 if pid in NOISY else os.WNOHANG)[0] == pid
        except ChildProcessError:
            done = True
        if done:
            DYING.remove(pid)
            if pid in NOISY:
                NOISY.remove(pid)


# ---------------------------------------------------------------- zygote main loop
def warm_up(modules: list, code: str) -> list:
    """Import `modules` and run the (trusted, from config) warm-up code once, here, so that no child pays
    for them again; then freeze the heap out of the GC's sight so children do not copy-on-write it."""
    import gc
    import importlib

    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - reported to the host, which warns once
            failed.append(f"{name}: {e!r}")
    if code:
        try:
            exec(compile(code, "<warmup>", "exec"), {"__name__": "__r1ci_warmup__"})  # noqa: S102 - from config
        except Exception as e:  # noqa: BLE001
            failed.append(f"warmup: {e!r}")
    gc.collect()
    gc.freeze()
    return failed


def main(settings_json: str) -> None:
    s = json.loads(settings_json)
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    import site

    for d in s["site_dirs"]:
        site.addsitedir(d)
    site.setquit()  # `-S` skipped these; snippets may call exit()/quit() as under `python -c`
    site.setcopyright()
    site.sethelper()
    failed = warm_up(s["preimport"], s["warmup"])
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    send(wfd, {"hello": os.getpid(), "failed_imports": failed})
    serve(s, rfd, wfd, Home())


def ready_child(s: dict, home: Home, spare: list) -> Child:
    """The pre-forked child, or a fresh one if it is missing or failed its setup (then once more)."""
    for attempt in range(2):
        child = spare.pop() if spare else Child(s, home)
        try:
            child.wait_ready(READY_TIMEOUT_S)
            return child
        except RuntimeError:
            child.discard()
            if attempt:
                raise
    raise AssertionError("unreachable")


def serve(s: dict, rfd: int, wfd: int, home: Home) -> None:
    """Answer requests until the host closes our input; keep one child forked ahead."""
    spare = []

    def prepare_next() -> None:
        try:
            spare.append(Child(s, home))
        except Exception as e:  # noqa: BLE001 - retried synchronously at the next request
            os.write(2, f"forking the next child failed: {e!r}\n".encode())

    prepare_next()
    while True:
        req = recv(rfd)
        if req is None:
            for child in spare:
                child.discard()
            return
        reap_inits()
        try:
            child = ready_child(s, home, spare)
            res = execute(s, child, req["code"], float(req["timeout_s"]), prepare_next)
        except Exception as e:  # noqa: BLE001 - the zygote's own failure: infra, never the snippet's
            res = {
                "status": "infra_error",
                "exit_code": None,
                "wall_s": 0.0,
                "stdout": "",
                "stderr": f"sandbox worker error: {e!r}",
                "stdout_bytes": 0,
                "stderr_bytes": 0,
            }
        res["id"] = req["id"]
        try:
            send(wfd, res)
        except OSError as e:
            if e.errno == errno.EPIPE:
                return
            raise
