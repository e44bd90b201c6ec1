"""Inside the jail: turn a freshly forked copy of the zygote into an unprivileged process and run one snippet.

Standard library only (it runs inside bubblewrap, see zygote.py for how it gets there). Order matters:
everything that needs root (mounting /proc, rlimits, the capability bounding set) happens first, then
every uid/gid is dropped to the worker's own unprivileged uid, then the seccomp filter is loaded, then
the child waits for its code and runs it exactly as `python -c code` would.
"""

import builtins
import ctypes
import io
import os
import resource
import signal
import sys
import traceback
import types

# The child's fixed fds besides 0-2: status byte out, code in, "set up" byte out (closed before the code
# runs, so a snippet can never fake a failed setup, the one thing the zygote reports as infra_error).
STATUS_FD, CODE_FD, READY_FD = 3, 4, 5
# On STATUS_FD: ST_OOM (a MemoryError ended the run), ST_DONE + exit code byte (output flushed, the
# result is final: the zygote answers without waiting for our exit's teardown of the address space).
# A snippet can write these too: it only changes its own result, never into an infra_error.
ST_OOM, ST_DONE, ST_READY = b"M", b"X", b"S"
MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 24, 22, 2

_libc = ctypes.CDLL(None, use_errno=True)


def check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


# ---------------------------------------------------------------- isolation
def child_setup(s: dict, fds) -> None:
    """fds, session, own /proc, rlimits, no capabilities, the worker's uid, seccomp; then chdir /tmp."""
    if min(fds.code_r, fds.out_w, fds.err_w, fds.st_w, fds.ready_w) <= READY_FD:
        raise RuntimeError("pipe fds collide with the child's fixed fds")  # the zygote keeps 3-6 busy
    os.dup2(fds.code_r, CODE_FD)
    os.dup2(fds.out_w, 1)
    os.dup2(fds.err_w, 2)
    os.dup2(fds.st_w, STATUS_FD)
    os.dup2(fds.ready_w, READY_FD)
    os.closerange(READY_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])  # nothing else inherited
    for fd in (STATUS_FD, CODE_FD, READY_FD):
        os.set_inheritable(fd, False)
    os.setsid()
    # A /proc of this execution's own pid namespace (we are in its private mount namespace), so that
    # os.getpid() and /proc/<pid> agree and no other process of the worker is visible.
    check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
    with open(
        "/proc/self/oom_score_adj", "w"
    ) as f:  # the zygote is protected (-1000); the snippet goes first
        f.write("1000")
    set_limits(s)
    for cap in range(64):  # empty bounding set: nothing in this process tree can regain a capability
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    uid = s["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears the permitted and effective capability sets
    drop_inheritable_caps()
    # Changing uid made us non-dumpable, which hides /proc/self/{fd,environ,...} from ourselves;
    # dumpable again, only the snippet's own processes (same uid; ptrace is filtered anyway) gain access.
    check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "PR_SET_DUMPABLE")
    install_seccomp()
    os.chdir("/tmp")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as CPython does: writes past the limit raise EFBIG


def set_limits(s: dict) -> None:
    mb = 1 << 20
    limits = {
        resource.RLIMIT_CPU: (s["cpu_s"], s["cpu_s"] + 1),
        resource.RLIMIT_AS: (s["memory_mb"] * mb, s["memory_mb"] * mb),
        # +1: the worker's next (waiting) child runs under the same uid
        resource.RLIMIT_NPROC: (s["max_procs"] + 1, s["max_procs"] + 1),
        resource.RLIMIT_FSIZE: (s["file_size_mb"] * mb, s["file_size_mb"] * mb),
        resource.RLIMIT_NOFILE: (s["open_files"], s["open_files"]),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_MEMLOCK: (0, 0),
        resource.RLIMIT_MSGQUEUE: (0, 0),
    }
    for kind, value in limits.items():
        resource.setrlimit(kind, value)


def drop_inheritable_caps() -> None:
    """capset(all zero): the inheritable set is the one setuid leaves non-empty."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    check(_libc.capset(header, data), "capset")


# seccomp (x86_64): syscalls a snippet never needs that are the usual kernel attack surface: new
# namespaces (unshare, namespace flags to clone; clone3 answers ENOSYS so libc falls back to clone),
# keyrings, bpf, perf, userfaultfd, io_uring, ptrace, mounts. Most are already denied by the dropped
# capabilities; this is the second lock.
AUDIT_ARCH_X86_64 = 0xC000003E
X86_64_DENY = {
    272: "unshare",
    308: "setns",
    248: "add_key",
    249: "request_key",
    250: "keyctl",
    321: "bpf",
    298: "perf_event_open",
    323: "userfaultfd",
    425: "io_uring_setup",
    426: "io_uring_enter",
    427: "io_uring_register",
    101: "ptrace",
    165: "mount",
    166: "umount2",
    155: "pivot_root",
    310: "process_vm_readv",
    311: "process_vm_writev",
    304: "open_by_handle_at",
}
X86_64_CLONE, X86_64_CLONE3 = 56, 435
CLONE_NS_FLAGS = 0x7E020080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
EPERM, ENOSYS = 1, 38


def seccomp_program() -> list:
    """The filter as (code, jt, jf, k) BPF instructions over struct seccomp_data."""
    ld_w_abs, jeq_k, jset_k, jge_k, ret_k = 0x20, 0x15, 0x45, 0x35, 0x06
    deny, allow = SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_ALLOW
    prog = [
        (ld_w_abs, 0, 0, 4),
        (jeq_k, 1, 0, AUDIT_ARCH_X86_64),
        (ret_k, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (ld_w_abs, 0, 0, 0),
        (jge_k, 0, 1, 0x40000000),
        (ret_k, 0, 0, deny),
    ]  # x32 ABI: denied
    for nr in sorted(X86_64_DENY):
        prog += [(jeq_k, 0, 1, nr), (ret_k, 0, 0, deny)]
    prog += [
        (jeq_k, 0, 1, X86_64_CLONE3),
        (ret_k, 0, 0, SECCOMP_RET_ERRNO | ENOSYS),
        (jeq_k, 0, 3, X86_64_CLONE),
        (ld_w_abs, 0, 0, 16),
        (jset_k, 0, 1, CLONE_NS_FLAGS),
        (ret_k, 0, 0, deny),
        (ret_k, 0, 0, allow),
    ]
    return prog


def install_seccomp() -> bool:
    """Load the filter (needs no_new_privs, which bwrap set). False (no filter) off x86_64."""
    if os.uname().machine != "x86_64":
        return False
    prog = seccomp_program()

    class SockFilter(ctypes.Structure):
        _fields_ = [
            ("code", ctypes.c_uint16),
            ("jt", ctypes.c_uint8),
            ("jf", ctypes.c_uint8),
            ("k", ctypes.c_uint32),
        ]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    filters = (SockFilter * len(prog))(*[SockFilter(*ins) for ins in prog])
    fprog = SockFprog(len(prog), filters)
    check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")
    return True


def reseed() -> None:
    """Forked children inherit the zygote's RNG state: give each execution fresh entropy."""
    import random

    random.seed()
    np_random = sys.modules.get("numpy.random")  # numpy imports it lazily; not yet imported = not seeded
    if np_random is not None:
        np_random.seed(int.from_bytes(os.urandom(4), "little"))


# ---------------------------------------------------------------- running the snippet
def run_snippet(code: str) -> int:
    """Run `code` like `python -c code` would; return the process exit code."""
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    sys.argv = ["-c"]
    sys.path.insert(0, "")  # as under `python -c`: modules the snippet writes to its cwd import
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    exit_code = 0
    try:
        exec(compile(code, "<string>", "exec"), main.__dict__)  # noqa: S102 - running it is the point
    except SystemExit as e:
        exit_code = _system_exit_code(e)
    except BaseException as e:  # noqa: BLE001 - report exactly as the interpreter would
        if isinstance(e, MemoryError):
            _write_status(ST_OOM)
        try:
            traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        except BaseException:  # noqa: BLE001, S110 - stderr may be closed by the snippet
            pass
        exit_code = 1
    return _finish(exit_code)


def _system_exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    try:
        print(e.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001, S110
        pass
    return 1


def _finish(exit_code: int) -> int:
    """Interpreter shutdown, in order: join non-daemon threads, atexit handlers, flush the streams."""
    import atexit
    import threading

    try:
        threading._shutdown()  # CPython waits for non-daemon threads at exit; so do we
    except BaseException:  # noqa: BLE001, S110
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001, S110
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - CPython exits 120 when flushing stdout fails
            exit_code = exit_code or 120
    return exit_code


def _write_status(code: bytes) -> None:
    try:
        os.write(STATUS_FD, code)
    except OSError:
        pass


def child_main(s: dict, fds) -> None:
    """Set up and say so on READY_FD, then wait for the code (b"R" + source, then EOF) and run it.

    A failed setup exits without the ready byte (the zygote reports infra_error); EOF without b"R"
    means the zygote discarded this child: exit quietly.
    """
    try:
        child_setup(s, fds)
        reseed()
        os.write(READY_FD, ST_READY)
        os.close(READY_FD)
    except BaseException as e:  # noqa: BLE001 - setup failures are the sandbox's, never the snippet's
        try:
            os.write(2, f"sandbox setup failed: {e!r}\n".encode())
        finally:
            os._exit(70)
    exit_code = 1
    try:
        with os.fdopen(CODE_FD, "rb") as f:
            data = f.read()
        if not data.startswith(b"R"):
            os._exit(0)
        exit_code = run_snippet(data[1:].decode("utf-8", errors="surrogateescape")) & 0xFF
        _write_status(ST_DONE + bytes([exit_code]))
    finally:
        os._exit(exit_code)
