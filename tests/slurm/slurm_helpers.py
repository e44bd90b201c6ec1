"""Helpers for the SLURM tests: run launch.py against the local cluster, read its accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm_local_cluster.sh"
SLURM_DIR = Path(os.environ.get("R1CI_SLURM_DIR", "/var/tmp/r1ci-slurm"))


def launch_cmd(*overrides: str) -> list[str]:
    """`python launch.py -m ... launcher=slurm_local`, as a user types it."""
    return [sys.executable, "launch.py", "-m", *overrides, "launcher=slurm_local"]


def run_multirun(env: dict, *overrides: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run a multirun to the end: hydra-submitit waits for every job's result."""
    return subprocess.run(launch_cmd(*overrides), cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env})


def sacct_states(env: dict, job_name: str) -> list[tuple[str, str]]:
    """(job id, state) of every accounting record of jobs named `job_name`, oldest first.

    slurmdbd is not used: jobs are recorded by jobcomp/filetxt and read with `sacct --completion`.
    A requeue is recorded as a PENDING line, the end of a job as COMPLETED / FAILED / CANCELLED.
    """
    out = subprocess.run(["sacct", "-c", "--parsable2", "--noheader", "-o", "JobID,JobName,State"],
                         capture_output=True, text=True, env={**os.environ, **env}, check=True).stdout
    rows = [line.split("|") for line in out.splitlines() if line.count("|") == 2]
    return [(jid, state) for jid, name, state in rows if name == job_name]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
