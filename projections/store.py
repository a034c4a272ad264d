"""The audit views' tables, in generations so a rebuild can fill fresh tables and swap them in while reads go on.

Amounts are stored as whole fen (cents) in BIGINT columns: exact sums on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from ledger.transcodings import register_ledger_transcodings
from projections.database import Cursor, Database

TABLES = {
    "tracking": "view TEXT PRIMARY KEY, position BIGINT NOT NULL",
    "state": "kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id)",
    # the long lists of a state (a project's entries, a fund's allocations), one row per item: a batch writes the
    # items it added or changed, not the whole list again (see ``SPLIT``)
    "state_items": (
        "kind TEXT NOT NULL, id TEXT NOT NULL, list TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, "
        "PRIMARY KEY (kind, id, list, seq)"
    ),
    "funds": (
        "fund_id TEXT PRIMARY KEY, region_code TEXT NOT NULL, parent_fund_id TEXT, fiscal_year INTEGER, "
        "document_no TEXT, appropriated BIGINT, allocated_to_funds BIGINT, allocated_to_projects BIGINT, "
        "recovered BIGINT, returned BIGINT, available BIGINT, closed_as TEXT, position BIGINT"
    ),
    "projects": (
        "project_id TEXT PRIMARY KEY, code TEXT, name TEXT, township_code TEXT NOT NULL, period_start TEXT, "
        "period_end TEXT, status TEXT, budget BIGINT, received BIGINT, returned BIGINT, committed BIGINT, "
        "disbursed BIGINT, spent BIGINT, reversed BIGINT, position BIGINT"
    ),
    "lines": (
        "project_id TEXT NOT NULL, line TEXT NOT NULL, budget BIGINT, revised BIGINT, approved BIGINT, "
        "spent BIGINT, reversed BIGINT, PRIMARY KEY (project_id, line)"
    ),
    "findings": (
        "finding_id TEXT PRIMARY KEY, rule TEXT NOT NULL, rule_version INTEGER, severity TEXT, subject_kind TEXT, "
        "subject_id TEXT, project_id TEXT, region_code TEXT NOT NULL, finding_key TEXT, group_key TEXT, "
        "title TEXT, detail TEXT, effective_on TEXT, params TEXT, evidence TEXT, first_position BIGINT, "
        "updated_position BIGINT, retracted_position BIGINT, retracted_on TEXT"
    ),
    "invoices": "entry_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, group_key TEXT NOT NULL",
    "decisions": (
        "finding_id TEXT NOT NULL, position BIGINT NOT NULL, decision TEXT, note TEXT, actor TEXT, "
        "effective_on TEXT, recorded_at TEXT, PRIMARY KEY (finding_id, position)"
    ),
    # the findings judged on an evaluation date, memoised per object (projections/lag_memo.py)
    "lag_memo": (
        "on_date TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, version BIGINT NOT NULL, "
        "fingerprint TEXT NOT NULL, findings INTEGER NOT NULL, behind INTEGER NOT NULL, closed_on TEXT, "
        "body TEXT NOT NULL, "
        "PRIMARY KEY (on_date, kind, id)"
    ),
    "lag_version": "kind TEXT NOT NULL, id TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (kind, id)",
}
# The columns of a table that queries select by, where the rest is only ever read (the states' JSON bodies):
# PostgreSQL gathers statistics of these only.
STATISTICS = {"state": "kind, id", "state_items": "kind, id, list, seq"}
# Caches beside the views, not views: their rows depend on what was read and how batches were cut, so a rebuild
# need not reproduce them row for row.
CACHES = ("lag_memo", "lag_version")
INDEXES = {
    "funds": ["region_code"],
    "projects": ["township_code"],
    "findings": ["project_id", "region_code", "group_key", "rule"],
    "invoices": ["group_key", "project_id"],
    "lag_memo": ["id"],
}


# The lists of a state kept as item rows. The state row holds the rest and, under ``ITEMS``, each list's length: a
# state row without it (written before lists were split) holds its lists itself and is read as it is.
SPLIT: dict[str, tuple[str, ...]] = {"project": ("entries",), "fund": ("allocations",)}
ITEMS = "$items"
Counts = dict[str, int]  # list name -> items stored
ItemChanges = dict[tuple[str, str], dict[str, set[int]]]  # (kind, id) -> list name -> indexes changed in place

DDL_LOCK = 7_326_118_002  # an advisory lock id for the views' schema changes
CHUNK = 500  # ids per IN (...) list (SQLite; PostgreSQL takes them all as one array)
ITEMS_READ = 16  # states whose list items one query reads (and holds in memory as rows)
BULK = 64  # rows from which PostgreSQL writes a table's rows by COPY (``write_rows``) instead of one per row
ANALYZE_EVERY = 5_000  # events applied before the views' statistics are refreshed (see ``ViewStore.analyze``)


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def yuan(value: int | None) -> Decimal:
    return (Decimal(value or 0) / 100).quantize(Decimal("0.01"))


def _transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_ledger_transcodings(transcoder)
    return transcoder


TRANSCODER = _transcoder()
# The transcoder's own JSON encoder, made once instead of on every call (``JSONEncoder.encode`` builds it each
# time): the same text, in a fraction of the time for the small records of a state's lists. No circular check:
# the states are trees.
def _as_tagged(value: Any, _tagged: Any = TRANSCODER._encode_obj) -> dict[str, Any]:
    """The transcoder's ``default``, with the types of the states' lists first."""
    kind = type(value)
    if kind is Decimal:
        return {"_type_": "decimal_str", "_data_": str(value)}
    if kind is date:
        return {"_type_": "date_iso", "_data_": value.isoformat()}
    return _tagged(value)  # type: ignore[no-any-return]


_ENCODER: Any = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _as_tagged, json.encoder.encode_basestring,  # type: ignore[attr-defined]
    None, TRANSCODER.encoder.key_separator, TRANSCODER.encoder.item_separator, False, False, True,
) if getattr(json.encoder, "c_make_encoder", None) is not None else None


def encode(value: Any) -> str:
    if _ENCODER is None:
        return TRANSCODER.encode(value).decode("utf8")
    return "".join(_ENCODER(value, 0))


def decode(text: str) -> Any:
    return TRANSCODER.decoder.decode(text)


def is_postgres(cursor: Cursor) -> bool:
    return getattr(cursor, "copy_upsert", None) is not None


def id_lists(cursor: Cursor, values: Sequence[str]) -> Iterator[tuple[str, list[Any]]]:
    """``(marks, params)`` to select rows whose column is one of ``values`` (strings), written ``column {marks}``:
    one parameter on PostgreSQL, ``IN (?, ...)`` lists of at most ``CHUNK`` on SQLite. Nothing for no values."""
    if not values:
        return
    if is_postgres(cursor):  # as JSON text: an array parameter of thousands of ids takes longer to send
        yield "IN (SELECT jsonb_array_elements_text(?::jsonb))", [json.dumps(list(values), ensure_ascii=False)]
        return
    for i in range(0, len(values), CHUNK):
        chunk = list(values[i:i + CHUNK])
        yield f"IN ({', '.join('?' for _ in chunk)})", chunk


class Rendered:
    """Rows made only as they are written (``count`` of them, from ``source``), each made once: a COPY sends the
    first while the next are still being made (the database stores them meanwhile), and can go over them again."""

    def __init__(self, count: int, source: Iterable[tuple[Any, ...]]) -> None:
        self.count = count
        self._source = iter(source)
        self._made: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        yield from self._made[:]
        for row in self._source:
            self._made.append(row)
            yield row


def write_rows(cursor: Cursor, table: str, columns: list[str], key: tuple[str, ...],
               rows: Sequence[tuple[Any, ...]] | Rendered, update: Sequence[str] | None = None, *,
               unique: bool = False, fresh: bool = False) -> None:
    """Inserts rows, or updates the ``update`` columns (default: every column not in ``key``) of those whose key
    is already stored: one statement per row, or on PostgreSQL from ``BULK`` rows on, by COPY. A key given twice
    ends as its last row, as it would row by row (``unique``: the caller knows that no key is given twice).
    ``fresh``: the rows are most likely all new, so PostgreSQL first tries to COPY them straight in (far cheaper
    than merging them), and merges them only if one was stored after all."""
    if not len(rows):
        return
    update = [c for c in columns if c not in key] if update is None else list(update)
    updates = ", ".join(f"{c} = excluded.{c}" for c in update)
    if is_postgres(cursor) and len(rows) >= BULK:
        if not unique:
            at = [columns.index(c) for c in key]
            rows = list({tuple(row[i] for i in at): row for row in rows}.values())
        if fresh and cursor.copy_insert(table, columns, rows):  # type: ignore[attr-defined]
            return
        cursor.copy_upsert(table, columns, key, rows, updates)  # type: ignore[attr-defined]
        return
    rows = list(rows)
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
                       f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}", rows)


class ViewStore:
    """Table names, schema management and generation switching for the audit views."""

    META = "lv_meta"

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as cursor:
            if db.dialect == "postgres":  # several processes starting at once must not race on CREATE TABLE
                cursor.execute("SELECT pg_advisory_xact_lock(?)", (DDL_LOCK,))
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.META} (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            cursor.execute(f"SELECT value FROM {self.META} WHERE name = 'generation'")
            if cursor.fetchone() is None:
                cursor.execute(f"INSERT INTO {self.META} (name, value) VALUES ('generation', '1') "
                               "ON CONFLICT (name) DO NOTHING")
            generation = self._generation(cursor)
            self.create_tables(cursor, generation)

    @staticmethod
    def _generation(cursor: Cursor) -> int:
        cursor.execute("SELECT value FROM lv_meta WHERE name = 'generation'")
        return int(cursor.fetchone()["value"])

    def seen_generation(self, cursor: Cursor) -> int:
        """The live generation as this transaction first read it: a read that queries several tables asks once
        (and so reads them all of one generation, even if a rebuild swaps another in meanwhile)."""
        seen = getattr(cursor, "generation_seen", None)
        if seen is None:
            seen = self._generation(cursor)
            cursor.generation_seen = seen  # type: ignore[attr-defined]
        return int(seen)

    def generation(self, cursor: Cursor | None = None) -> int:
        if cursor is not None:
            return self._generation(cursor)
        with self.db.transaction(write=False) as c:
            return self._generation(c)

    def lock_generation(self, cursor: Cursor) -> int:
        """Reads the live generation, holding it against a concurrent swap until the transaction ends."""
        if self.db.dialect == "postgres":
            cursor.execute("SELECT value FROM lv_meta WHERE name = 'generation' FOR UPDATE")
            return int(cursor.fetchone()["value"])
        return self._generation(cursor)

    @staticmethod
    def table(name: str, generation: int) -> str:
        return f"lv{int(generation)}_{name}"

    def create_tables(self, cursor: Cursor, generation: int) -> None:
        for name, columns in TABLES.items():
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.table(name, generation)} ({columns})")
            for column in INDEXES.get(name, []):
                table = self.table(name, generation)
                cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_{column}_idx ON {table} ({column})")

    def drop_tables(self, cursor: Cursor, generation: int) -> None:
        for name in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table(name, generation)}")

    def analyze(self, cursor: Cursor, generation: int, position: int, *, force: bool = False) -> bool:
        """Refreshes the planner's statistics of a generation's tables once they have grown by a tenth (at least
        ``ANALYZE_EVERY`` events) since last time, or when ``force``d; True if it did. Without statistics a fresh
        generation's joins are planned as if its tables were nearly empty (nested loops over thousands of rows:
        seconds for a province's roll-up instead of milliseconds), and autovacuum may not have got to them yet."""
        name = f"analyzed_{int(generation)}"
        cursor.execute(f"SELECT value FROM {self.META} WHERE name = ?", (name,))
        row = cursor.fetchone()
        last = 0 if row is None else int(row["value"])
        if not force and position - last < max(ANALYZE_EVERY, last // 10):
            return False
        for table in TABLES:
            columns = f" ({STATISTICS[table]})" if table in STATISTICS and is_postgres(cursor) else ""
            cursor.execute(f"ANALYZE {self.table(table, generation)}{columns}")
        cursor.execute(f"INSERT INTO {self.META} (name, value) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, str(position)))
        return True

    def switch_generation(self, cursor: Cursor, generation: int) -> None:
        cursor.execute("UPDATE lv_meta SET value = ? WHERE name = 'generation'", (str(generation),))

    # -- tracking ------------------------------------------------------------------------------------------------

    def position(self, cursor: Cursor, generation: int, view: str = "audit") -> int:
        cursor.execute(f"SELECT position FROM {self.table('tracking', generation)} WHERE view = ?", (view,))
        row = cursor.fetchone()
        return 0 if row is None else int(row["position"])

    def set_position(self, cursor: Cursor, generation: int, position: int, view: str = "audit") -> None:
        cursor.execute(
            f"INSERT INTO {self.table('tracking', generation)} (view, position) VALUES (?, ?) "
            "ON CONFLICT (view) DO UPDATE SET position = excluded.position",
            (view, position),
        )

    # -- state blobs ---------------------------------------------------------------------------------------------

    def load_state(self, cursor: Cursor, generation: int, kind: str, ident: str) -> dict[str, Any] | None:
        found = self.load_counted(cursor, generation, kind, ident)
        return None if found is None else found[0]

    def load_counted(self, cursor: Cursor, generation: int, kind: str, ident: str
                     ) -> tuple[dict[str, Any], Counts] | None:
        """A state with its lists, and how many items of each list are stored as rows (what ``save_states`` needs
        to write only what changed)."""
        cursor.execute(f"SELECT body FROM {self.table('state', generation)} WHERE kind = ? AND id = ?",
                       (kind, ident))
        row = cursor.fetchone()
        if row is None:
            return None
        record = decode(row["body"])
        counts = self._attach_items(cursor, generation, kind, {ident: record})
        return record, counts.get(ident, {})

    def load_states(self, cursor: Cursor, generation: int, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The states of ``kind`` with these ids (those that exist), with their lists."""
        return self.load_counted_states(cursor, generation, kind, ids)[0]

    def load_counted_states(self, cursor: Cursor, generation: int, kind: str, ids: Iterable[str]
                            ) -> tuple[dict[str, dict[str, Any]], dict[str, Counts]]:
        """``load_states`` with the stored length of each state's lists (``load_counted`` of many at once)."""
        wanted = sorted(set(ids))
        records: dict[str, dict[str, Any]] = {}
        for marks, chunk in id_lists(cursor, wanted):
            cursor.execute(f"SELECT id, body FROM {self.table('state', generation)} WHERE kind = ? AND id {marks}",
                           [kind, *chunk])
            records.update((row["id"], decode(row["body"])) for row in cursor.fetchall())
        counts = self._attach_items(cursor, generation, kind, records)
        return records, counts

    def states_of_rows(self, cursor: Cursor, generation: int, kind: str, rows: Iterable[dict[str, Any]]
                       ) -> dict[str, dict[str, Any]]:
        """States from rows of ``id`` and ``body`` the caller selected (joined and filtered as it needs), in the
        rows' order, with their lists."""
        records = {row["id"]: decode(row["body"]) for row in rows}
        self._attach_items(cursor, generation, kind, records)
        return records

    def _attach_items(self, cursor: Cursor, generation: int, kind: str, records: dict[str, dict[str, Any]]
                      ) -> dict[str, Counts]:
        """Puts each split list back into its state; returns the stored lengths (none for a state that holds its
        lists itself)."""
        counts = {ident: record.pop(ITEMS) for ident, record in records.items() if ITEMS in record}
        names = SPLIT.get(kind, ())
        if not counts or not names:
            return counts
        wanted = sorted(counts)
        for group in (wanted[i:i + ITEMS_READ] for i in range(0, len(wanted), ITEMS_READ)):
            texts: dict[tuple[str, str], list[str]] = {}  # a few states' rows in memory at a time
            for marks, chunk in id_lists(cursor, group):
                cursor.execute(f"SELECT id, list, seq, body FROM {self.table('state_items', generation)} "
                               f"WHERE kind = ? AND id {marks} ORDER BY id, list, seq", [kind, *chunk])
                for row in cursor.fetchall():
                    if row["seq"] < counts[row["id"]].get(row["list"], 0):
                        texts.setdefault((row["id"], row["list"]), []).append(row["body"])
            for ident in group:
                stored = counts[ident]
                for name in names:
                    found = texts.get((ident, name), [])
                    if len(found) != stored.get(name, 0):
                        raise RuntimeError(f"{kind} {ident}: {len(found)} of {stored.get(name, 0)} {name} rows "
                                           "found")
                    records[ident][name] = decode("[" + ",".join(found) + "]")
        return counts

    def save_states(self, cursor: Cursor, generation: int, rows: Iterable[tuple[str, str, dict[str, Any]]],
                    stored: dict[tuple[str, str], Counts] | None = None, changed: ItemChanges | None = None
                    ) -> dict[tuple[str, str], Counts]:
        """Writes states. The split lists of each are written from the stored length on (``stored``: what was read
        or last written; nothing stored when not given), plus the items at the ``changed`` indexes below it.
        Returns the lengths now stored."""
        headers, items, appended, now = [], [], [], {}
        for kind, ident, record in rows:
            names = SPLIT.get(kind, ())
            if not names:
                headers.append((kind, ident, encode(record)))
                continue
            before = (stored or {}).get((kind, ident), {})
            dirty = (changed or {}).get((kind, ident), {})
            counts = {}
            for name in names:
                values = record[name]
                start = min(before.get(name, 0), len(values))
                rewrite = sorted(i for i in dirty.get(name, ()) if i < start)
                items += [(kind, ident, name, i, encode(values[i])) for i in rewrite]
                appended += [(kind, ident, name, i, values[i]) for i in range(start, len(values))]  # encoded below
                counts[name] = len(values)
            headers.append((kind, ident, encode({**{k: v for k, v in record.items() if k not in names},
                                                  ITEMS: counts})))
            now[(kind, ident)] = counts
        # Items past the stored length are new (a list only grows), unless rows were left there otherwise.
        unique = len(headers) == len({h[:2] for h in headers})
        columns, key = ["kind", "id", "list", "seq", "body"], ("kind", "id", "list", "seq")
        write_rows(cursor, self.table("state_items", generation), columns, key,
                   Rendered(len(appended), ((k, i, n, s, encode(v)) for k, i, n, s, v in appended)),
                   unique=unique, fresh=True)
        write_rows(cursor, self.table("state_items", generation), columns, key, items, unique=unique)
        write_rows(cursor, self.table("state", generation), ["kind", "id", "body"], ("kind", "id"), headers)
        return now

    def upsert(self, cursor: Cursor, generation: int, name: str, rows: list[dict[str, Any]],
               key: tuple[str, ...]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        write_rows(cursor, self.table(name, generation), columns, key, [tuple(row[c] for c in columns) for row in rows])


def iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
