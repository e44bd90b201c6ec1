"""Fixtures for the sandbox tests (helpers live in sandbox_helpers.py)."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def listening_port():
    """A TCP server on the host's loopback: a snippet must not reach it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]
