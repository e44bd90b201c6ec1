"""sandbox=unsafe: explicit, loud, and still honest about timeouts, output caps and statuses."""

from __future__ import annotations

import pytest
from sandbox_helpers import host_processes_matching, small_config

from r1ci.config import compose
from r1ci.sandbox import make_sandbox


def test_unsafe_must_be_chosen_explicitly():
    assert compose([]).sandbox.kind == "local"
    assert compose(["sandbox=unsafe"]).sandbox.kind == "unsafe"


async def test_unsafe_warns_loudly_and_runs(caplog):
    with pytest.warns(RuntimeWarning, match="WITHOUT ISOLATION"):
        sb = make_sandbox(small_config(kind="unsafe"))
    assert "WITHOUT ISOLATION" in caplog.text
    async with sb:
        ok, err, slow, flood, bg = await sb.run_many(
            [
                "print(2 + 2)",
                "1/0",
                "import time; time.sleep(30)",
                "print('w' * 100000)",
                "import subprocess; subprocess.Popen(['sleep', '987656']); print('bg')",
            ],
            timeout_s=3.0,
        )
    assert (ok.status, ok.stdout) == ("ok", "4\n")
    assert err.status == "error" and "ZeroDivisionError" in err.stderr
    assert slow.status == "timeout"
    assert flood.status == "ok" and flood.truncated and "output truncated" in flood.stdout
    assert bg.stdout == "bg\n" and host_processes_matching("sleep\0" + "987656") == []
    assert sb.counters["ok"] == 3
