"""Store fixtures shared by every test tier: the same tests run on embedded SQLite and on PostgreSQL.

Fixtures:
    store             "sqlite" or "postgres"; parametrising over it runs a test on both stores (ids sqlite/postgres)
    app_env           the eventsourcing environment dict for the current store (fresh file / fresh schema per test)
    app               a ``ledger.application.LedgerApplication(env=app_env)``, closed after the test
    postgres_dsn      DSN of this run's throwaway PostgreSQL database (session-scoped; skips if PostgreSQL is down)
    postgres_env_for  callable ``(schema) -> env dict``: creates that schema in the run database, returns the env

Each pytest run creates its own database ``ledger_test_<timestamp>_<pid>_<random>`` on first use and drops it at
the end, and each test gets its own schema in it, so tests never see each other's events and concurrent runs never
interfere. PostgreSQL unreachable: with ``CI=true`` the run stops at session start with a non-zero exit; otherwise
the PostgreSQL tests are skipped and the terminal summary says so loudly.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
STORES = ("sqlite", "postgres")
RUN_DATABASE_PREFIX = "ledger_test_"
# Databases left behind by runs that were killed before their teardown are dropped after this long.
STALE_RUN_DATABASE_SECONDS = 24 * 3600
EXIT_POSTGRES_UNAVAILABLE = 4

PostgresEnvFor = Callable[[str], dict[str, str]]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _admin_dsn() -> str:
    return os.environ.get("LEDGER_TEST_POSTGRES_DSN") or DEFAULT_POSTGRES_DSN


def _redacted(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    if params.get("password"):
        params["password"] = "***"
    return make_conninfo("", **params)


@dataclass
class _PostgresRun:
    """What this pytest session knows about PostgreSQL; kept in ``config.stash``."""

    admin_dsn: str
    reachable: bool = False
    unreachable_reason: str = ""
    run_dbname: str | None = None
    run_dsn: str | None = None
    schema_count: int = 0
    store_of: dict[str, str] = field(default_factory=dict)  # nodeid -> sqlite / postgres / store-independent


_RUN = pytest.StashKey[_PostgresRun]()


def _probe(dsn: str) -> str | None:
    """None if PostgreSQL answers at ``dsn``, else why not."""
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means "unreachable"; the reason is reported
        detail = " ".join(str(exc).split()) or "no detail"  # psycopg's messages span lines
        return f"{type(exc).__name__}: {detail}"
    return None


# --- session start: find out whether PostgreSQL is there -----------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    run = _PostgresRun(admin_dsn=_admin_dsn())
    session.config.stash[_RUN] = run
    reason = _probe(run.admin_dsn)
    if reason is None:
        run.reachable = True
        return
    run.unreachable_reason = f"cannot connect to {_redacted(run.admin_dsn)}: {reason}"
    if _in_ci():
        pytest.exit(
            f"PostgreSQL is required when CI=true, and it is unreachable: {run.unreachable_reason}. "
            "Start PostgreSQL or set LEDGER_TEST_POSTGRES_DSN to a reachable server.",
            returncode=EXIT_POSTGRES_UNAVAILABLE,
        )


def pytest_report_header(config: pytest.Config) -> str:
    run = config.stash.get(_RUN, None)
    if run is None:
        return "postgres: not probed"
    if run.reachable:
        return f"postgres: {_redacted(run.admin_dsn)} (a throwaway database per run, a schema per test)"
    return f"postgres: UNREACHABLE, PostgreSQL tests will be skipped ({run.unreachable_reason})"


# --- collection: markers per store, skips when PostgreSQL is down -------------------------------------------------


def _store_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("store") in STORES:
        return str(callspec.params["store"])
    fixturenames = getattr(item, "fixturenames", ())
    if "postgres_dsn" in fixturenames or "postgres_env_for" in fixturenames:
        return "postgres"
    return "store-independent"


@pytest.hookimpl(tryfirst=True)  # before the mark plugin applies -m, so -m postgres / -m sqlite see these markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash.get(_RUN, None)
    for item in items:
        store = _store_of(item)
        if store in STORES and item.get_closest_marker(store) is None:
            item.add_marker(getattr(pytest.mark, store))
        if run is None:
            continue
        run.store_of[item.nodeid] = store
        if store == "postgres" and not run.reachable:
            item.add_marker(pytest.mark.skip(reason="PostgreSQL unreachable (see the report header and summary)"))


# --- fixtures -------------------------------------------------------------------------------------------------------


def _stale_run_databases(conn: psycopg.Connection[Any]) -> list[str]:
    now = time.time()
    stale = []
    for (name,) in conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (RUN_DATABASE_PREFIX.replace("_", r"\_") + "%",)
    ):
        match = re.match(rf"{RUN_DATABASE_PREFIX}(\d{{14}})_", name)
        if match is None:
            continue
        created = time.mktime(time.strptime(match.group(1), "%Y%m%d%H%M%S"))
        if now - created > STALE_RUN_DATABASE_SECONDS:
            stale.append(name)
    return stale


@pytest.fixture(scope="session")
def postgres_dsn(pytestconfig: pytest.Config) -> Iterator[str]:
    """DSN of this run's own PostgreSQL database, created on first use and dropped (WITH (FORCE)) at the end."""
    run = pytestconfig.stash[_RUN]
    if not run.reachable:
        pytest.skip(f"PostgreSQL unreachable: {run.unreachable_reason}")
    dbname = f"{RUN_DATABASE_PREFIX}{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(run.admin_dsn, autocommit=True) as conn:
        for stale in _stale_run_databases(conn):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(stale)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    run.run_dbname = dbname
    run.run_dsn = make_conninfo(run.admin_dsn, dbname=dbname)
    try:
        yield run.run_dsn
    finally:
        with psycopg.connect(run.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


@pytest.fixture(scope="session")
def postgres_env_for(postgres_dsn: str) -> PostgresEnvFor:
    """Return a function that creates a schema in the run database and gives the eventsourcing env that uses it.

    eventsourcing 9.5.6 does not create ``POSTGRES_SCHEMA`` (it only qualifies its tables and types with it, and
    fails with "schema ... does not exist"), so the schema is created here.
    """
    params = conninfo_to_dict(postgres_dsn)

    def env_for(schema: str) -> dict[str, str]:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params["dbname"]),
            "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
            "POSTGRES_PORT": str(params.get("port") or "5432"),
            "POSTGRES_USER": str(params.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(params.get("password") or ""),
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "18",
            "CREATE_TABLE": "y",
        }

    return env_for


def _schema_name(run: _PostgresRun, test_name: str) -> str:
    """A unique, readable schema name (PostgreSQL identifiers are at most 63 bytes)."""
    run.schema_count += 1
    readable = re.sub(r"[^a-z0-9]+", "_", test_name.lower()).strip("_")[:40]
    return f"t{run.schema_count:05d}_{readable}"


@pytest.fixture(params=[pytest.param(s, marks=getattr(pytest.mark, s), id=s) for s in STORES])
def store(request: pytest.FixtureRequest) -> str:
    """The event store a test runs on: "sqlite" (embedded default) or "postgres" (production)."""
    return str(request.param)


@pytest.fixture
def app_env(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """The eventsourcing environment for this test's store: a fresh SQLite file or a fresh PostgreSQL schema."""
    if store == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    env_for: PostgresEnvFor = request.getfixturevalue("postgres_env_for")
    return env_for(_schema_name(request.config.stash[_RUN], request.node.name))


@pytest.fixture
def app(app_env: dict[str, str]) -> Iterator[Any]:
    """The ledger application on this test's store."""
    from ledger.application import LedgerApplication

    application = LedgerApplication(env=app_env)
    try:
        yield application
    finally:
        application.close()


# --- reporting -------------------------------------------------------------------------------------------------------

_OUTCOME_ORDER = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
_PRECEDENCE = ("failed", "error", "xpassed", "passed", "xfailed", "skipped")


def _final_outcomes(terminalreporter: Any) -> dict[str, str]:
    """nodeid -> one outcome per test, from the reports of its setup, call and teardown phases."""
    phases: dict[str, set[str]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if not isinstance(report, pytest.TestReport):
                continue
            if report.failed:
                outcome = "failed" if report.when == "call" else "error"
            elif report.skipped:
                outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
            elif report.when == "call":
                outcome = "xpassed" if hasattr(report, "wasxfail") else "passed"
            else:
                continue
            phases.setdefault(report.nodeid, set()).add(outcome)
    return {nodeid: next(o for o in _PRECEDENCE if o in found) for nodeid, found in phases.items()}


def _per_store_line(run: _PostgresRun, outcomes: dict[str, str]) -> str:
    counts: dict[str, Counter[str]] = {name: Counter() for name in (*STORES, "store-independent")}
    for nodeid, outcome in outcomes.items():
        counts[run.store_of.get(nodeid, "store-independent")][outcome] += 1
    parts = []
    for name, counter in counts.items():
        if not counter and name not in STORES:
            continue
        detail = ", ".join(f"{counter[o]} {o}" for o in _OUTCOME_ORDER if counter[o]) or "0 tests"
        parts.append(f"{name} {detail}")
    return "tests per store: " + "; ".join(parts)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(_RUN, None)
    if run is None:
        return
    outcomes = _final_outcomes(terminalreporter)
    terminalreporter.write_line(_per_store_line(run, outcomes))
    if run.reachable:
        return
    terminalreporter.write_sep("!", "PostgreSQL tests were NOT run", red=True, bold=True)
    if _in_ci():
        terminalreporter.write_line(f"CI=true and {run.unreachable_reason}: run stopped.", red=True, bold=True)
    else:
        skipped = sum(1 for n, o in outcomes.items() if o == "skipped" and run.store_of.get(n) == "postgres")
        terminalreporter.write_line(
            f"{skipped} PostgreSQL test(s) SKIPPED: {run.unreachable_reason}", red=True, bold=True
        )
        terminalreporter.write_line(
            "Start PostgreSQL or set LEDGER_TEST_POSTGRES_DSN; with CI=true this stops the run instead.", red=True
        )
    terminalreporter.write_sep("!", red=True, bold=True)
