"""Uid leases (r1ci/sandbox/uids.py): pools on one host never share a uid, and so never share RLIMIT_NPROC.
The end-to-end check (a full uid in one pool, threads still start in the other) is in test_sandbox_hostile."""

from __future__ import annotations

import pwd

import pytest
from sandbox_helpers import small_config

from r1ci.sandbox import SandboxUnavailable, make_sandbox
from r1ci.sandbox import uids as uids_module
from r1ci.sandbox.uids import UidLease

BASE = 62000


def test_leases_held_at_once_are_disjoint_and_a_released_one_is_reused(tmp_path):
    first = UidLease(BASE, 3, tmp_path / "locks")
    second = UidLease(BASE, 2, tmp_path / "locks")
    assert (first.uids, second.uids) == ([BASE, BASE + 1, BASE + 2], [BASE + 3, BASE + 4])
    first.release()
    third = UidLease(BASE, 4, tmp_path / "locks")
    assert third.uids == [BASE, BASE + 1, BASE + 2, BASE + 5]  # second still holds BASE+3, BASE+4


def test_uids_of_host_accounts_are_never_leased(tmp_path):
    nobody = pwd.getpwnam("nobody").pw_uid
    assert UidLease(nobody - 1, 2, tmp_path / "locks").uids == [nobody - 1, nobody + 1]


def test_running_out_of_uids_is_a_clear_error_and_leaks_no_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(uids_module, "SCAN_LIMIT", 4)
    held = UidLease(BASE, 3, tmp_path / "locks")
    with pytest.raises(SandboxUnavailable, match="fewer than 2 free uids.*sandbox.pool_size"):
        UidLease(BASE, 2, tmp_path / "locks")
    assert UidLease(BASE, 1, tmp_path / "locks").uids == [BASE + 3]  # the failed lease let its uid go
    held.release()


def test_a_lock_directory_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "locks"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(SandboxUnavailable, match="writable by it alone"):
        UidLease(BASE, 1, shared)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SandboxUnavailable, match="must be a directory"):
        UidLease(BASE, 1, tmp_path / "link")


async def test_a_pool_that_finds_no_free_uid_fails_clearly_and_can_start_once_one_is_free(monkeypatch):
    monkeypatch.setattr(uids_module, "SCAN_LIMIT", 2)
    held = UidLease(63000, 2)  # the host-wide lock directory, as a second pool would hold it
    sandbox = make_sandbox(small_config(pool_size=1, uid_base=63000))
    try:
        with pytest.raises(SandboxUnavailable, match="fewer than 1 free uids"):
            await sandbox.start()
    finally:
        held.release()  # even when the check fails: later tests lease from the same host-wide directory
    await sandbox.start()
    try:
        assert sandbox.uids == [63000] and (await sandbox.run("import os; print(os.getuid())")).stdout == "63000\n"
    finally:
        await sandbox.close()
