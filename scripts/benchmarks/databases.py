"""Throwaway PostgreSQL databases ``bench_<timestamp>_<name>``: created for one benchmark and dropped after it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

STAMP = time.strftime("%Y%m%d%H%M%S")


@contextmanager
def throwaway(admin_dsn: str, name: str) -> Iterator[str]:
    """Yields the DSN of a new database ``bench_<run timestamp>_<name>``, dropped (WITH FORCE) afterwards."""
    dbname = f"bench_{STAMP}_{name}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        yield make_conninfo(admin_dsn, dbname=dbname)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def ledger_env(dsn: str) -> dict[str, str]:
    """The eventsourcing environment of a ledger in that database's ``public`` schema."""
    params = conninfo_to_dict(dsn)
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": str(params["dbname"]),
            "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
            "POSTGRES_PORT": str(params.get("port") or 5432), "POSTGRES_USER": str(params.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(params.get("password") or ""),
            "POSTGRES_LOCK_TIMEOUT": "30", "POSTGRES_POOL_SIZE": "4"}


def server_settings(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers")
        return {n: str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(n))).fetchone()[0]) for n in names}
