"""Pooled PostgreSQL connections (``POSTGRES_PRE_PING``): one the server closed is replaced before a query uses it,
and the others are handed out without a round trip to find that out (ledger/application.py, _check_cheaply)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from ledger import application
from ledger.application import LedgerApplication, _check_cheaply

EnvFor = Callable[[str], dict[str, str]]


class Connection:
    """What the check sees of a pooled connection: its socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()


def test_pings_a_connection_only_when_first_handed_out_idle_a_while_or_with_something_to_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours, server = socket.socketpair()
    pinged: list[Connection] = []
    connection = Connection(ours)
    try:
        _check_cheaply(pinged.append, connection)
        assert len(pinged) == 1  # new to the check
        _check_cheaply(pinged.append, connection)
        assert len(pinged) == 1  # used just now, nothing to read: handed out as it is

        monkeypatch.setattr(application, "PING_AFTER_IDLE_SECONDS", 0.0)
        time.sleep(0.01)
        _check_cheaply(pinged.append, connection)
        assert len(pinged) == 2  # unused for longer than the setting
        monkeypatch.undo()

        server.sendall(b"E")  # what a server sends on its own: why it closes the connection
        _check_cheaply(pinged.append, connection)
        assert len(pinged) == 3
        ours.recv(1)
        server.close()  # the end of the stream
        _check_cheaply(pinged.append, connection)
        assert len(pinged) == 4
    finally:
        ours.close()
        server.close()


def test_a_connection_whose_backend_was_terminated_is_replaced_before_a_query_uses_it(
    postgres_env_for: EnvFor, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(application, "PING_AFTER_IDLE_SECONDS", 3600.0)  # only the socket can give it away
    env = {**postgres_env_for("pooled_connections"), "POSTGRES_PRE_PING": "y", "POSTGRES_POOL_SIZE": "1",
           "POSTGRES_MAX_OVERFLOW": "0"}
    app = LedgerApplication(env=env)
    try:
        datastore: Any = app.factory.datastore  # type: ignore[attr-defined]
        with datastore.get_connection() as connection:
            terminated = connection.info.backend_pid
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (terminated,))
            deadline = time.monotonic() + 10
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (terminated,)).fetchone():
                assert time.monotonic() < deadline, "the backend was not terminated"
                time.sleep(0.01)
        time.sleep(0.05)  # its goodbye reaches the pooled connection's socket

        assert app.recorder.max_notification_id() is None  # a query: on a new connection, at the first try

        stats = datastore.pool.get_stats()
        assert stats.get("connections_lost", 0) == 1  # the check found it closed and the pool replaced it
        assert stats.get("returns_bad", 0) == 0  # no query met it (the library would have retried one that did)
        with datastore.get_connection() as connection:
            assert connection.info.backend_pid != terminated
    finally:
        app.close()
