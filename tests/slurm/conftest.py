"""The local one-node SLURM cluster (scripts/slurm_local_cluster.sh), started once per test session.

CI runs these tests as root on a fresh machine where scripts/setup.sh installed slurm-wlm and munge.
Elsewhere they are skipped unless the cluster is already up (start it yourself, as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from slurm_helpers import SCRIPT, SLURM_DIR


def _script(cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), cmd], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def slurm_env():
    """Env for clients (sbatch, sacct, submitit) of the running local cluster; stops it if it started it."""
    if shutil.which("slurmctld") is None:
        pytest.skip("slurm-wlm is not installed (scripts/setup.sh installs it)")
    was_up = _script("status").returncode == 0
    if not was_up:
        if os.geteuid() != 0:
            pytest.skip("the local SLURM cluster is not running, and starting it needs root")
        proc = _script("start")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    yield {"SLURM_CONF": str(SLURM_DIR / "slurm.conf"), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    if not was_up:
        _script("stop")


@pytest.fixture
def job_name() -> str:
    """A unique SLURM job name, to find this test's jobs in the accounting (sacct -c)."""
    return f"r1ci-test-{uuid.uuid4().hex[:8]}"
