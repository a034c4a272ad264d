"""The demo into a new embedded SQLite ledger, fast: built in a scratch database where committing costs no flush to
disk (``/dev/shm`` where there is one), then copied into place in one go with SQLite's online backup, hash chain
and all. Each use case commits its own transaction, so writing straight to disk would wait for a flush per posting.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from api.demo import LOADING_ENV, load_demo
from api.demo.plan import DEFAULT_SEED
from ledger.application import LedgerApplication

SCRATCH = "/dev/shm"


def load_demo_file(dbname: str | Path, *, seed: int = DEFAULT_SEED, scale: float = 1.0,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Writes the demo ledger to ``dbname``, which must not exist yet (nor its -wal and -shm files)."""
    target = Path(dbname)
    leftovers = [p for p in (target, Path(f"{target}-wal"), Path(f"{target}-shm")) if p.exists()]
    if leftovers:
        raise FileExistsError(f"{leftovers[0]} already exists; the demo is loaded into a new ledger only")
    scratch_root = SCRATCH if os.path.isdir(SCRATCH) and os.access(SCRATCH, os.W_OK) else None
    scratch = Path(tempfile.mkdtemp(prefix="ledger-demo-", dir=scratch_root))
    try:
        built = scratch / "ledger.sqlite"
        app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(built),
                                     **LOADING_ENV})
        try:
            counts = load_demo(app, seed=seed, scale=scale, progress=progress)
        finally:
            app.close()
        target.parent.mkdir(parents=True, exist_ok=True)
        source, copy = sqlite3.connect(built), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return counts
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
