"""The view database: SQLite (a file beside the ledger's) or PostgreSQL (the ledger's own database and schema).

SQL is written once with ``?`` placeholders and run on either; values always travel as parameters.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol


class Cursor(Protocol):
    def execute(self, sql: str, params: Any = ...) -> Any: ...
    def executemany(self, sql: str, params: Any) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Database:
    """A connection source with one API for both engines: ``transaction()`` yields a cursor, commits on exit."""

    dialect = "sqlite"

    def transaction(self, *, write: bool = True) -> contextlib.AbstractContextManager[Cursor]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _SQLiteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self.generation_seen: int | None = None  # see ViewStore.seen_generation

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, params: Any) -> Any:
        return self._cursor.executemany(sql, params)

    def fetchall(self) -> list[Any]:
        return [dict(row) for row in self._cursor.fetchall()]

    def fetchone(self) -> Any:
        row = self._cursor.fetchone()
        return None if row is None else dict(row)


class SQLiteDatabase(Database):
    """One connection per thread, WAL so readers never wait for the projection writer."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.memory = path in ("", ":memory:")
        if self.memory:
            self.path = f"file:views-{id(self)}?mode=memory&cache=shared"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._keepalive = self._connect()  # an in-memory database lives while a connection is open

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30,
                                     uri=self.memory)
        connection.row_factory = sqlite3.Row
        if not self.memory:
            connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL" if not self.memory else "PRAGMA synchronous=OFF")
        return connection

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        connection = self._connection()
        if getattr(self._local, "in_transaction", False):
            raise RuntimeError("a view transaction is already open on this thread; pass its cursor instead")
        # A shared-cache in-memory database locks whole tables and fails at once ("database table is locked")
        # instead of waiting: there, readers take the lock too.
        lock = self._write_lock if write or self.memory else contextlib.nullcontext()
        with lock:
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            self._local.in_transaction = True
            try:
                yield _SQLiteCursor(connection.cursor())
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            else:
                connection.execute("COMMIT")
            finally:
                self._local.in_transaction = False

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
        self._keepalive.close()


class _PostgresCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.generation_seen: int | None = None  # see ViewStore.seen_generation
        self._stages = 0  # temporary tables of ``copy_upsert`` made in this transaction

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._cursor.execute(self._sql(sql), params)

    def executemany(self, sql: str, params: Any) -> Any:
        return self._cursor.executemany(self._sql(sql), params)

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def copy_insert(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> bool:
        """COPY rows straight into ``table``, in a savepoint: False, and nothing written, if one of their keys is
        already stored (then ``copy_upsert`` them)."""
        from psycopg.errors import UniqueViolation

        self._stages += 1
        savepoint = f"lv_fresh_{self._stages}"
        self._cursor.execute(f"SAVEPOINT {savepoint}")
        try:
            self._copy(table, columns, rows)
        except UniqueViolation:
            self._cursor.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
            self._cursor.execute(f"RELEASE SAVEPOINT {savepoint}")
            return False
        self._cursor.execute(f"RELEASE SAVEPOINT {savepoint}")
        return True

    def _copy(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
        """Sends the rows a thousand at a time (the server stores each lot while the next is made)."""
        source = iter(rows)
        with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            while chunk := list(itertools.islice(source, 1000)):
                try:
                    text = "".join(["\t".join([_copy_field(v) for v in row]) + "\n" for row in chunk])
                except TypeError:  # a value of another type: psycopg's own adaptation
                    for row in chunk:
                        copy.write_row(row)
                else:
                    copy.write(text)

    def copy_upsert(self, table: str, columns: list[str], key: tuple[str, ...], rows: Iterable[tuple[Any, ...]],
                    updates: str) -> None:
        """Many rows in three statements instead of one per row: COPY into a temporary table dropped at commit,
        then one ``INSERT ... SELECT ... ON CONFLICT``. ``rows`` must not repeat a key (one statement cannot
        update a row twice)."""
        self._stages += 1
        stage = f"lv_stage_{self._stages}"
        names = ", ".join(columns)
        self._cursor.execute(f"CREATE TEMPORARY TABLE {stage} (LIKE {table}) ON COMMIT DROP")
        self._copy(stage, columns, rows)
        self._cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
                             f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")


def _copy_field(value: Any) -> str:
    """A text, whole number or NULL in COPY's text format (what ``Copy.write_row`` writes, without its per-value
    adaptation); TypeError for anything else."""
    kind = type(value)
    if kind is str:
        if "\\" in value:
            value = value.replace("\\", "\\\\")
        if "\n" in value or "\r" in value or "\t" in value:
            value = value.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    if value is None:
        return "\\N"
    raise TypeError(kind)


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, conninfo: str, schema: str, *, max_size: int = 4, timeout: float = 5.0) -> None:
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        self.schema = schema
        # ``timeout``: how long a transaction waits for a connection while the database cannot be reached, then
        # fails (the worker retries with backoff; a read answers 503). ``check``: a connection the server closed
        # (restart, terminated backend) is replaced before use; the pool reconnects by itself.
        self.pool = ConnectionPool(conninfo, min_size=1, max_size=max_size, open=True, timeout=timeout,
                                   check=ConnectionPool.check_connection,
                                   kwargs={"row_factory": dict_row, "options": f"-c search_path={schema}",
                                           "autocommit": True})

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        with self.pool.connection() as connection, connection.transaction(), connection.cursor() as cursor:
            yield _PostgresCursor(cursor)

    def close(self) -> None:
        self.pool.close()


def database_from_env(env: Mapping[str, str]) -> Database:
    """Where the views live, from the same settings as the ledger: beside its SQLite file, or in its PostgreSQL."""
    module = env.get("PERSISTENCE_MODULE", "")
    if module == "eventsourcing.postgres":
        from psycopg.conninfo import make_conninfo

        conninfo = make_conninfo(
            dbname=env.get("POSTGRES_DBNAME", "postgres"), host=env.get("POSTGRES_HOST", "127.0.0.1"),
            port=env.get("POSTGRES_PORT", "5432"), user=env.get("POSTGRES_USER", "postgres"),
            password=env.get("POSTGRES_PASSWORD") or None, connect_timeout=env.get("POSTGRES_CONNECT_TIMEOUT", "5"),
        )
        return PostgresDatabase(conninfo, env.get("POSTGRES_SCHEMA") or "public",
                                max_size=int(env.get("LEDGER_VIEWS_POOL_SIZE", "4")),
                                timeout=float(env.get("POSTGRES_CONNECT_TIMEOUT", "5")))
    path = env.get("LEDGER_VIEWS_DBNAME")
    if path is None:
        ledger_file = env.get("SQLITE_DBNAME", "")
        path = "" if module != "eventsourcing.sqlite" or ledger_file in ("", ":memory:") or ledger_file.startswith(
            "file:") else f"{ledger_file}.views"
    return SQLiteDatabase(path)
