"""One LedgerApplication per process, made on first use (after gunicorn forks), kept on the Flask app."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InternalError
from flask import Flask, current_app

from api.config import ensure_data_dir, persistence_env, read_side_env
from ledger.access import Grant, authenticate
from ledger.application import LedgerApplication
from projections.runtime import ReadSide

EXTENSION = "ledger"
KINDS = {"ledger:Fund": "fund", "ledger:Project": "project", "ledger:Procurement": "procurement"}
REGION_ATTRIBUTES = ("holder_region", "township_code", "region")


@dataclass
class LedgerExtension:
    """Holds the process's application, a cache of what each aggregate is and where, and recent token checks."""

    env: dict[str, str]
    token_cache_seconds: float
    read_env: dict[str, str] = field(default_factory=dict)
    projections: str = "thread"
    read_wait_seconds: float = 5.0
    pid: int | None = None
    _app: LedgerApplication | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _identities: OrderedDict[UUID, tuple[str, str] | None] = field(default_factory=OrderedDict)
    _grants: dict[str, tuple[float, Grant | None]] = field(default_factory=dict)
    _read_side: ReadSide | None = None
    _read_pid: int | None = None

    @property
    def app(self) -> LedgerApplication:
        if self._app is None or self.pid != os.getpid():
            with self._lock:
                if self._app is None or self.pid != os.getpid():
                    ensure_data_dir(self.env)
                    self._app = _construct(self.env)
                    self.pid = os.getpid()
        return self._app

    @property
    def started(self) -> bool:
        return self._app is not None

    @property
    def read_side(self) -> ReadSide:
        """The audit views of this process: followed by a background thread unless LEDGER_PROJECTIONS says the
        worker runs elsewhere (``external``) or catches up on each read (``inline``, deterministic for tests)."""
        app = self.app
        if self._read_side is None or self._read_pid != os.getpid():
            with self._lock:
                if self._read_side is None or self._read_pid != os.getpid():
                    self._read_side = ReadSide(app, self.read_env)
                    self._read_pid = os.getpid()
                    if self.projections == "thread":
                        self._read_side.start_background()
        return self._read_side

    def views_at_least(self, position: int | None) -> bool:
        """Read-your-writes: the views have applied ``position`` (waiting a bounded time); inline mode catches up."""
        read_side = self.read_side
        if self.projections == "inline":
            read_side.worker.catch_up()
            return True
        if position is None:
            return True
        return read_side.worker.wait_for(position, timeout=self.read_wait_seconds)

    def close(self) -> None:
        with self._lock:
            if self._read_side is not None:
                self._read_side.stop()
                self._read_side = None
            if self._app is not None:
                self._app.close()
                self._app = None

    def identity(self, aggregate_id: UUID) -> tuple[str, str] | None:
        """(kind, region) of a fund, project or procurement, read from its first event; None if it is none."""
        if aggregate_id in self._identities:
            return self._identities[aggregate_id]
        first = next(iter(self.app.events.get(aggregate_id, lte=1)), None)
        found: tuple[str, str] | None = None
        if first is not None:
            kind = KINDS.get(getattr(first, "originator_topic", ""))
            region = next((getattr(first, a) for a in REGION_ATTRIBUTES if hasattr(first, a)), None)
            if kind is not None and region is not None:
                found = (kind, str(region))
        if found is not None:  # what exists never changes kind or region; what does not may appear later
            self._identities[aggregate_id] = found
            if len(self._identities) > 100_000:
                self._identities.popitem(last=False)
        return found

    def grant_for(self, secret: str) -> Grant | None:
        """The token's grant, remembered for a few seconds (LEDGER_TOKEN_CACHE_SECONDS; 0 turns this off)."""
        now = time.monotonic()
        cached = self._grants.get(secret)
        if cached is not None and now - cached[0] < self.token_cache_seconds:
            return cached[1]
        grant = authenticate(self.app, secret)
        if self.token_cache_seconds > 0:
            if len(self._grants) > 10_000:
                self._grants.clear()
            self._grants[secret] = (now, grant)
        return grant

    def forget_grants(self) -> None:
        self._grants.clear()


def _construct(env: dict[str, str], attempts: int = 6) -> LedgerApplication:
    """Creates the application; retried when workers starting together race on CREATE TABLE IF NOT EXISTS
    (PostgreSQL answers "tuple concurrently updated" or a duplicate catalog key to all but one of them)."""
    for attempt in range(attempts):
        try:
            return LedgerApplication(env=env)
        except (InternalError, IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.02, 0.1) * 2**attempt)
    raise AssertionError("unreachable")


def init_ledger(app: Flask, values: dict[str, Any]) -> LedgerExtension:
    extension = LedgerExtension(env=persistence_env(values), token_cache_seconds=values["LEDGER_TOKEN_CACHE_SECONDS"],
                                read_env=read_side_env(values), projections=values["LEDGER_PROJECTIONS"],
                                read_wait_seconds=values["LEDGER_READ_WAIT_SECONDS"])
    app.extensions[EXTENSION] = extension
    return extension


def extension() -> LedgerExtension:
    ext: LedgerExtension = current_app.extensions[EXTENSION]
    return ext


def ledger() -> LedgerApplication:
    """The process's LedgerApplication, created on first use."""
    return extension().app
