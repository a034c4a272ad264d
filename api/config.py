"""Configuration of the HTTP API: defaults, environment variables (read here, at the edge) and the store's env.

``create_app(config)`` takes a dict of the same keys as the environment variables; with no dict it reads them from
the process environment. Every key is listed, with its default, in the README.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MIB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    "LEDGER_DATA_DIR": "./instance",
    "LEDGER_MAX_BODY": MIB,
    "LEDGER_TOKEN_CACHE_SECONDS": 5.0,
    "LEDGER_LOG_LEVEL": "INFO",
    "PERSISTENCE_MODULE": "eventsourcing.sqlite",
    "LEDGER_PROJECTIONS": "thread",
    "LEDGER_READ_WAIT_SECONDS": 5.0,
    "LEDGER_SEAL_KEY": "",  # empty: <LEDGER_DATA_DIR>/seal.key
    "LEDGER_SEAL_EVERY": 1000,
    "LEDGER_OCDS_PREFIX": "ocds-xxxxxx",  # placeholder OCID prefix: set the one the OCP registered for you
    "LEDGER_RATE_LIMIT": "",  # per token; off
    "LEDGER_RATE_LIMIT_UNAUTHENTICATED": "300/minute",  # refused authentications per client address
    "LEDGER_RATE_LIMIT_STORAGE": "memory://",
    "LEDGER_PROXY_COUNT": 0,
}
PROJECTION_MODES = ("thread", "external", "inline")
# Keys of the read side (views database, rule parameters, batch size), handed to projections with the store's env.
READ_SIDE_KEYS = ("LEDGER_VIEWS_DBNAME", "LEDGER_RULES_CONFIG", "LEDGER_PROJECTION_BATCH", "LEDGER_VIEWS_POOL_SIZE")

# Keys handed to eventsourcing (each may also carry the application-name prefix LEDGER_, which the library reads).
PERSISTENCE_KEYS = (
    "PERSISTENCE_MODULE",
    "SQLITE_DBNAME",
    "SQLITE_LOCK_TIMEOUT",
    "POSTGRES_DBNAME",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_SCHEMA",
    "POSTGRES_LOCK_TIMEOUT",
    "POSTGRES_POOL_SIZE",
    "POSTGRES_MAX_OVERFLOW",
    "POSTGRES_CONNECT_TIMEOUT",
    "POSTGRES_PRE_PING",
    "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
    "CREATE_TABLE",
    "LEDGER_GROUP_COMMIT",  # read by the application itself (ledger/group_commit.py), not by the library
)
API_KEYS = ("LEDGER_DATA_DIR", "LEDGER_MAX_BODY", "LEDGER_TOKEN_CACHE_SECONDS", "LEDGER_LOG_LEVEL",
            "LEDGER_PROJECTIONS", "LEDGER_READ_WAIT_SECONDS", "LEDGER_SEAL_KEY", "LEDGER_SEAL_EVERY",
            "LEDGER_SECRET_KEY", "LEDGER_RATE_LIMIT", "LEDGER_RATE_LIMIT_UNAUTHENTICATED", "LEDGER_RATE_LIMIT_STORAGE",
            "LEDGER_PROXY_COUNT", "LEDGER_OCDS_PREFIX", *READ_SIDE_KEYS)


def load_config(config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective configuration: defaults, then either ``config`` or (when it is None) the environment."""
    values = dict(DEFAULTS)
    if config is None:
        source = os.environ if environ is None else environ
        values.update({k: source[k] for k in (*API_KEYS, *PERSISTENCE_KEYS) if k in source})
    else:
        values.update(config)
    values["LEDGER_MAX_BODY"] = int(values["LEDGER_MAX_BODY"])
    values["LEDGER_TOKEN_CACHE_SECONDS"] = float(values["LEDGER_TOKEN_CACHE_SECONDS"])
    values["LEDGER_SEAL_EVERY"] = int(values["LEDGER_SEAL_EVERY"])
    values["LEDGER_READ_WAIT_SECONDS"] = float(values["LEDGER_READ_WAIT_SECONDS"])
    if values["LEDGER_PROJECTIONS"] not in PROJECTION_MODES:
        raise ValueError(f"LEDGER_PROJECTIONS must be one of {', '.join(PROJECTION_MODES)}")
    return values


def read_side_env(values: Mapping[str, Any]) -> dict[str, str]:
    """The store's env plus the read side's own keys, for ``projections.runtime.ReadSide``."""
    return {**persistence_env(values), **{k: str(values[k]) for k in READ_SIDE_KEYS if values.get(k) is not None}}


def persistence_env(values: Mapping[str, Any]) -> dict[str, str]:
    """The environment for ``LedgerApplication(env=...)``: SQLite under the data directory unless told otherwise."""
    env = {k: str(values[k]) for k in PERSISTENCE_KEYS if values.get(k) is not None}
    if env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite":
        env.setdefault("SQLITE_DBNAME", str(Path(str(values["LEDGER_DATA_DIR"])) / "ledger.sqlite"))
        env.setdefault("SQLITE_LOCK_TIMEOUT", "10")
    if env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
        env.setdefault("POSTGRES_LOCK_TIMEOUT", "5")
        # Fail fast while the database cannot be reached: a query waits at most this long for a pooled connection
        # (the library's default is 30 s, and it tries each query ten times), then the request answers 503 with
        # Retry-After; api.problems.Outage makes the requests that follow answer 503 at once.
        env.setdefault("POSTGRES_CONNECT_TIMEOUT", "1")
        # Pooled connections are checked before use, so those the server closed (a restart, a terminated backend,
        # a lost network) are replaced instead of failing a request.
        env.setdefault("POSTGRES_PRE_PING", "y")
    env.setdefault("CREATE_TABLE", "y")
    return env


def ensure_data_dir(env: Mapping[str, str]) -> None:
    """Creates the directory of an SQLite database file (not for ':memory:' or URIs)."""
    dbname = env.get("SQLITE_DBNAME", "")
    if env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite" and dbname and not dbname.startswith(("file:", ":")):
        Path(dbname).parent.mkdir(parents=True, exist_ok=True)
