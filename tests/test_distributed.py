"""Rank/world come from torchrun or SLURM variables, never from --local_rank."""

from __future__ import annotations

from r1ci.distributed import _first_host, dist_info

CLEAR = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS",
         "SLURM_LOCALID", "SLURM_JOB_NODELIST", "SLURM_JOB_ID")


def _clear(monkeypatch):
    for k in CLEAR:
        monkeypatch.delenv(k, raising=False)


def test_single_process_default(monkeypatch):
    _clear(monkeypatch)
    info = dist_info()
    assert (info.rank, info.world_size, info.is_main) == (0, 1, True)


def test_torchrun_env(monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("MASTER_ADDR", "node7")
    info = dist_info()
    assert (info.rank, info.local_rank, info.world_size, info.master_addr) == (3, 1, 8, "node7")


def test_slurm_env(monkeypatch):
    _clear(monkeypatch)
    for k, v in {"SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_LOCALID": "1",
                 "SLURM_JOB_NODELIST": "gpu[03-06,09]", "SLURM_JOB_ID": "1234"}.items():
        monkeypatch.setenv(k, v)
    info = dist_info()
    assert (info.rank, info.local_rank, info.world_size, info.master_addr) == (5, 1, 16, "gpu03")
    assert info.master_port == 20000 + 1234  # same on every rank of the job


def test_first_host_forms():
    assert _first_host("a01,a02") == "a01"
    assert _first_host("node[1-4]") == "node1"
    assert _first_host("solo") == "solo"
