"""The hostile corpus: each snippet attacks the sandbox or its host and must get a well-defined status,
leave the host and the pool untouched, and leave the next execution clean (checked after every case)."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sandbox_helpers import HOST_SECRET, host_processes_matching, named, running, small_config

from r1ci.sandbox import ExecResult, make_sandbox

pytestmark = pytest.mark.asyncio(loop_scope="module")
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    code: str
    status: str  # the one status this attack must get
    check: Callable[[ExecResult], bool] | None = None  # more about the result
    timeout_s: float | None = None


def err_has(*needles: str) -> Callable[[ExecResult], bool]:
    return lambda r: all(n in r.stderr for n in needles)


def out_is(text: str) -> Callable[[ExecResult], bool]:
    return lambda r: r.stdout.strip() == text


CASES: dict[str, Case] = {
    # --- network
    "net_tcp_internet": Case(
        "import socket; socket.create_connection(('1.1.1.1', 80), timeout=2)",
        "error",
        err_has("Network is unreachable"),
    ),
    "net_udp": Case(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.sendto(b'x', ('8.8.8.8', 53))",
        "error",
        err_has("Network is unreachable"),
    ),
    "net_dns": Case("import socket; socket.getaddrinfo('example.com', 80)", "error", err_has("gaierror")),
    "net_interfaces": Case(
        "import socket; print([n for _, n in socket.if_nameindex()])", "ok", out_is("['lo']")
    ),
    "net_host_loopback": Case(
        "import socket; socket.create_connection(('127.0.0.1', PORT), timeout=2)",
        "error",
        err_has("ConnectionRefusedError"),
    ),
    # --- reading what is not the sandbox's
    "read_project_file": Case(
        f"open({str(REPO / 'pyproject.toml')!r}).read()", "error", err_has("FileNotFoundError")
    ),
    "read_project_dir": Case(f"import os; os.listdir({str(REPO)!r})", "error", err_has("FileNotFoundError")),
    "read_etc_shadow": Case("open('/etc/shadow').read()", "error", err_has("FileNotFoundError")),
    "read_host_proc": Case(
        "import os\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n"
        "        try: print(open(f'/proc/{p}/cmdline', 'rb').read())\n"
        "        except OSError: pass",
        "ok",
        lambda r: "pytest" not in r.stdout and "/work" not in r.stdout,
    ),
    "read_pid1_environ": Case("open('/proc/1/environ', 'rb').read()", "error", err_has("PermissionError")),
    "env_secrets": Case(
        "import os\nprint(sorted(os.environ))\nprint(open('/proc/self/environ', 'rb').read())",
        "ok",
        lambda r: HOST_SECRET not in r.stdout and "R1CI_TEST_SECRET" not in r.stdout,
    ),
    # --- writing outside /tmp
    "write_root_fs": Case("open('/evil', 'w')", "error", err_has("Read-only file system")),
    "write_usr": Case("open('/usr/lib/evil', 'w')", "error", err_has("Read-only file system")),
    "write_site_packages": Case(
        "import numpy, os\nopen(os.path.join(os.path.dirname(numpy.__file__), 'evil.py'), 'w')",
        "error",
        err_has("Read-only file system"),
    ),
    "fill_tmp": Case(
        "f = open('/tmp/big', 'wb')\nwhile True: f.write(b'x' * (1 << 20))", "error", err_has("OSError")
    ),
    "fill_dev_shm": Case(
        "f = open('/dev/shm/big', 'wb')\nwhile True: f.write(b'x' * (1 << 20))", "error", err_has("OSError")
    ),
    "many_tmp_files": Case(
        "for i in range(3000): open(f'/tmp/f{i}', 'w').write('x')\nprint('done')", "ok", out_is("done")
    ),
    # --- resource exhaustion
    "fork_bomb": Case(
        "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", "timeout", timeout_s=1.5
    ),
    "thread_bomb": Case(
        "import threading, time\nfor i in range(100000):\n"
        "    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()",
        "error",
        err_has("can't start new thread"),
    ),
    "memory_bomb": Case("x = bytearray(10**11)", "oom", err_has("MemoryError")),
    "memory_bomb_numpy": Case("import numpy as np; np.ones((10**6, 10**5))", "oom", err_has("MemoryError")),
    "memory_bomb_gradual": Case(
        "l = []\nwhile True: l.append(bytearray(50 * 2**20))", "oom", err_has("MemoryError"), timeout_s=20
    ),
    "open_files_bomb": Case(
        "fs = [open('/dev/null') for _ in range(100000)]", "error", err_has("Too many open files")
    ),
    "cpu_spin": Case(
        "while True: pass", "timeout", lambda r: r.exit_code == -9 and r.wall_s >= 1.0, timeout_s=1.0
    ),
    "cpu_rlimit": Case(
        "import resource\n_, hard = resource.getrlimit(resource.RLIMIT_CPU)\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (1, hard))\nwhile True: pass",
        "timeout",
        lambda r: r.exit_code == -24,
        timeout_s=10,
    ),
    "sleep_past_timeout": Case("import time; time.sleep(60)", "timeout", timeout_s=1.0),
    "output_flood": Case(
        "import sys\nwhile True: sys.stdout.write('x' * 65536)",
        "killed",
        lambda r: r.truncated and "killed after" in r.stderr and len(r.stdout) < 4200,
    ),
    "output_gigabyte": Case(
        "import os\nb = b'y' * (1 << 24)\nfor _ in range(64): os.write(1, b)",
        "killed",
        lambda r: r.truncated and r.stdout.startswith("yyyy"),
    ),
    "output_truncated": Case(
        "print('z' * 100000)",
        "ok",
        lambda r: r.truncated and "output truncated" in r.stdout and len(r.stdout) < 4200,
    ),
    "stderr_flood": Case(
        "import sys\nwhile True: sys.stderr.write('e' * 65536)", "killed", lambda r: r.truncated
    ),
    # --- the worker, signals, crashes
    "kill_parent": Case(
        "import os, signal; os.kill(os.getppid(), signal.SIGKILL)", "killed", lambda r: r.exit_code == -9
    ),
    "kill_every_process": Case(
        "import os, signal\nerrs = set()\nfor p in os.listdir('/proc'):\n"
        "    if p.isdigit() and int(p) != os.getpid():\n"
        "        try: os.kill(int(p), signal.SIGKILL)\n"
        "        except OSError as e: errs.add(type(e).__name__)\n"
        "print(sorted(errs))",
        "ok",
        lambda r: "ProcessLookupError" in r.stdout or "PermissionError" in r.stdout,
    ),
    "kill_minus_one": Case(
        "import os, signal; os.kill(-1, signal.SIGKILL); print('alive')",
        "error",
        err_has("ProcessLookupError"),
    ),
    "signal_self_term": Case(
        "import os, signal; os.kill(os.getpid(), signal.SIGTERM)", "killed", lambda r: r.exit_code == -15
    ),
    "signal_self_stop": Case(
        "import os, signal; os.kill(os.getpid(), signal.SIGSTOP)", "timeout", timeout_s=1.0
    ),
    "ctypes_segfault": Case("import ctypes; ctypes.string_at(0)", "killed", lambda r: r.exit_code == -11),
    "os_exit_nonzero": Case(
        "import os; print('bye', flush=True); os._exit(7)",
        "error",
        lambda r: r.exit_code == 7 and r.stdout == "bye\n",
    ),
    "close_stdout": Case("import os; os.close(1); print('lost')", "error", lambda r: r.exit_code == 120),
    "raise_rlimit": Case(
        "import resource\nresource.setrlimit(resource.RLIMIT_AS, "
        "(resource.RLIM_INFINITY, resource.RLIM_INFINITY))",
        "error",
        err_has("not allowed to raise maximum limit"),
    ),
    "forge_infra_error": Case(
        "import os\nfor fd in range(3, 10):\n    try: os.write(fd, b'IS' * 100)\n"
        "    except OSError: pass\nos._exit(70)",
        "error",
        lambda r: r.exit_code == 70,
    ),
    "inherited_fds": Case(
        "import os; print(sorted(os.listdir('/proc/self/fd'), key=int))",
        "ok",
        out_is("['0', '1', '2', '3', '4']"),
    ),  # stdio, status pipe, listdir's own fd
    # --- privileges
    "become_root": Case("import os; os.setuid(0)", "error", err_has("PermissionError")),
    "no_capabilities": Case(
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')])",
        "ok",
        out_is(
            "['0000000000000000', '0000000000000000', '0000000000000000', "
            "'0000000000000000', '0000000000000000']"
        ),
    ),
    "new_user_namespace": Case(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.unshare(0x10000000) == 0, os.strerror(ctypes.get_errno())",
        "error",
        err_has("Operation not permitted"),
    ),
    "mount_tmpfs": Case(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.mount(b'none', b'/mnt', b'tmpfs', 0, None) == 0, os.strerror(ctypes.get_errno())",
        "error",
        err_has("AssertionError"),
    ),
    # --- ordinary failures keep their usual shape
    "syntax_error": Case("def f(:", "error", err_has("SyntaxError")),
    "deep_recursion": Case("def f(n): return f(n + 1)\nf(0)", "error", err_has("RecursionError")),
    "read_stdin": Case("input()", "error", err_has("EOFError")),
    "exit_with_message": Case(
        "import sys; sys.exit('giving up')", "error", lambda r: r.exit_code == 1 and "giving up" in r.stderr
    ),
    "non_utf8_output": Case(
        "import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe\\n')", "ok", lambda r: r.stdout.startswith("ok")
    ),
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sandbox():
    os.environ["R1CI_TEST_SECRET"] = HOST_SECRET  # set before the workers start: they must not inherit it
    try:
        async with make_sandbox(small_config()) as sb:
            yield sb
    finally:
        del os.environ["R1CI_TEST_SECRET"]


async def assert_pool_clean(sb) -> None:
    """The next execution starts clean on every worker: empty /tmp and /dev/shm, no process but its own
    (and its namespace's init), all workers up and none replaced."""
    probe = (
        "import json, os\nprint(json.dumps([os.listdir('/tmp'), os.listdir('/dev/shm'), "
        "sorted(int(p) for p in os.listdir('/proc') if p.isdigit())]))"
    )
    for r in await sb.run_many([probe] * sb.size):
        assert r.status == "ok", r
        assert json.loads(r.stdout) == [[], [], [1, 2]], r.stdout
    assert len(sb.workers) == sb.size
    assert sb.restarts == 0, "a hostile snippet must never take its worker down"


async def test_corpus_is_big_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
async def test_hostile(sandbox, name, listening_port):
    case = CASES[name]
    code = textwrap.dedent(case.code).replace("PORT", str(listening_port))
    r = await sandbox.run(code, timeout_s=case.timeout_s)
    assert r.status == case.status, r
    if case.check is not None:
        assert case.check(r), r
    await assert_pool_clean(sandbox)


@pytest.mark.parametrize("how", ["popen", "double_fork_setsid"])
async def test_background_process_is_gone_after_the_run(sandbox, how):
    marker = "987654" if how == "popen" else "987655"
    code = {
        "popen": f"import subprocess; subprocess.Popen(['sleep', '{marker}']); print('started')",
        "double_fork_setsid": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        os.execv('/usr/bin/sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\nprint('started')",
    }[how]
    r = await sandbox.run(code)
    assert r.status == "ok" and r.stdout == "started\n", r
    assert host_processes_matching(f"sleep\0{marker}") == []
    await assert_pool_clean(sandbox)


async def test_no_state_leaks_between_executions(sandbox):
    first = await sandbox.run_many(
        [
            (
                "import sympy, json\nsympy.LEAKED = 1\njson.dumps = None\n"
                "open('/tmp/secret', 'w').write('s')\nimport builtins; builtins.leak = 1\nprint('set')"
            )
        ]
        * sandbox.size
    )
    assert all(r.status == "ok" for r in first), first
    after = await sandbox.run_many(
        [
            (
                "import sympy, json, os, builtins\nprint(hasattr(sympy, 'LEAKED'), json.dumps is None, "
                "os.path.exists('/tmp/secret'), hasattr(builtins, 'leak'))"
            )
        ]
        * sandbox.size
    )
    assert [r.stdout for r in after] == ["False False False False\n"] * sandbox.size, after


async def test_rngs_are_reseeded_per_execution(sandbox):
    code = "import random, numpy as np; print(random.random(), np.random.rand())"
    outs = [r.stdout for r in await sandbox.run_many([code] * 6)]
    assert len(set(outs)) == 6, outs


MULTI_PROCESS_MEMORY_BOMB = """
import os, sys, time
kids = []
for i in range(5):
    pid = os.fork()
    if pid == 0:
        b = b'x' * (500 * 2**20)  # each alone is within RLIMIT_AS; together they are not within the cap
        time.sleep(1)
        os._exit(0)
    kids.append(pid)
codes = [os.waitpid(p, 0)[1] for p in kids]
print(codes)
sys.exit(0 if all(c == 0 for c in codes) else 3)
"""


ONE_PROCESS_OVER_THE_CAP = "b = b'x' * (1536 * 2**20)\nprint(len(b))"  # 1.5 GB against memory_mb=1024


async def test_memory_of_all_processes_together_is_capped(sandbox):
    groups = [g for g in sandbox._cgroups if g is not None]
    if not groups:  # no writable memory cgroup here: the pool relies on RLIMIT_AS, per process
        res = await sandbox.run(ONE_PROCESS_OVER_THE_CAP)
        assert res.status == "oom" and "MemoryError" in res.stderr, res
        return
    res = await sandbox.run(MULTI_PROCESS_MEMORY_BOMB, timeout_s=60)
    assert res.status == "oom", res
    assert "9" in res.stdout  # some of the children were SIGKILLed by the cgroup's OOM killer
    for g in groups:
        peak = g.path / ("memory.peak" if g.v2 else "memory.max_usage_in_bytes")
        assert int(peak.read_text()) <= (1024 + 512) << 20
    await assert_pool_clean(sandbox)


async def test_without_cgroups_rlimit_still_caps_each_process():
    """The rlimit path, run on every machine (the cgroup is switched off here, as where none is writable)."""
    async with make_sandbox(small_config(pool_size=1, memory_cgroup=False)) as sb:
        assert sb._cgroups == [None]
        res = await sb.run(ONE_PROCESS_OVER_THE_CAP)
        assert res.status == "oom" and "MemoryError" in res.stderr, res
        assert (await sb.run("print(len(b'x' * (256 * 2**20)))")).stdout == f"{256 * 2**20}\n"


async def test_each_worker_runs_snippets_as_its_own_unprivileged_uid(sandbox):
    """As many snippets as workers at once: each worker takes one, and each runs under its own uid
    (sandbox.uid_base + slot), never root, with no capabilities."""
    code = ("import os, time\ntime.sleep(0.5)\ncap = [l for l in open('/proc/self/status') if l.startswith('CapEff')]"
            "\nprint(os.getuid(), os.geteuid(), os.getgid(), cap[0].split()[1])")
    outs = [r.stdout.split() for r in await sandbox.run_many([code] * sandbox.size)]
    assert sorted(int(o[0]) for o in outs) == sorted(sandbox.uids), outs
    assert len(set(sandbox.uids)) == sandbox.size and min(sandbox.uids) >= sandbox.cfg.uid_base
    assert all(o[0] == o[1] and int(o[2]) != 0 and int(o[3], 16) == 0 for o in outs), outs


FILL_NPROC = textwrap.dedent("""
    import ctypes, os, time
    while True:
        try:
            if os.fork() == 0:
                time.sleep(120)
                os._exit(0)
        except OSError:  # RLIMIT_NPROC: this uid runs max_procs + 1 processes
            break
    ctypes.CDLL(None).prctl(15, b'r1cifull', 0, 0, 0)
    time.sleep(120)
    """)
START_THREADS = ("import threading\nts = [threading.Thread(target=lambda: None) for _ in range(4)]\n"
                 "[t.start() for t in ts]\n[t.join() for t in ts]\nprint('started')")


async def test_two_pools_on_one_host_never_share_a_uid_or_its_process_budget():
    """Two pools open at once (two ranks on one node) lease distinct uids: while a snippet in one pool
    holds every process its uid may have, a snippet in the other still starts threads."""
    cfg = small_config(pool_size=1, max_procs=8)
    async with make_sandbox(cfg) as a, make_sandbox(cfg) as b:
        assert not set(a.uids) & set(b.uids), (a.uids, b.uids)
        filler = asyncio.create_task(a.run(FILL_NPROC, timeout_s=60))
        full = asyncio.create_task(running("r1cifull"))
        await asyncio.wait([filler, full], return_when=asyncio.FIRST_COMPLETED)
        assert full.done(), f"the filler ended before holding its uid's processes: {filler.result()}"
        res = await b.run(START_THREADS)
        assert (res.status, res.stdout) == ("ok", "started\n"), res
        filler.cancel()


PROBE_NAME = "r1ciprobeA"
PROBE = named("import time\ntime.sleep(3)\nprint('A done')", PROBE_NAME)


async def test_a_snippet_cannot_see_or_signal_another_workers_snippet(sandbox):
    """Snippet A runs on one worker under a name the host sees in its /proc; snippet B, on the other
    worker, finds no such process and cannot signal A's host pid; A finishes untouched."""

    a = asyncio.create_task(sandbox.run(PROBE, timeout_s=30))
    host_pid = await running(PROBE_NAME)
    b = await sandbox.run(textwrap.dedent(f"""
        import os, signal
        names = []
        for p in os.listdir('/proc'):
            if p.isdigit():
                try: names.append(open(f'/proc/{{p}}/comm').read().strip())
                except OSError: pass
        try:
            os.kill({host_pid}, signal.SIGKILL)
            print(names, 'signalled')
        except OSError as e:
            print(names, type(e).__name__)
        """))
    assert b.status == "ok", b
    assert PROBE_NAME not in b.stdout and b.stdout.strip().endswith(("ProcessLookupError", "PermissionError")), b
    res = await a
    assert (res.status, res.stdout) == ("ok", "A done\n"), res
    await assert_pool_clean(sandbox)


async def test_host_home_directories_are_invisible_whatever_is_installed(sandbox):
    """/root shows only the path to the mounted Python runtime (when it lives there), nothing the host
    keeps beside it (a file planted now included), and /home does not exist."""
    from r1ci.sandbox.bwrap import PythonRuntime

    runtime = PythonRuntime.current()
    mounts = [runtime.prefix, *runtime.mounted_site_dirs()]
    expected = sorted({Path(m).relative_to("/root").parts[0] for m in mounts if m.startswith("/root/")})
    planted = Path("/root") / f".r1ci-home-probe-{os.getpid()}"
    planted.write_text(HOST_SECRET)
    try:
        r = await sandbox.run("import json, os\nhome = sorted(os.listdir('/root')) if os.path.isdir('/root') else []"
                              "\nprint(json.dumps([home, os.path.exists('/home')]))")
    finally:
        planted.unlink()
    home, has_home = json.loads(r.stdout)
    assert home == expected and not has_home, (home, expected)
    assert len(os.listdir("/root")) > len(expected)  # the host's /root holds more: it is really hidden
