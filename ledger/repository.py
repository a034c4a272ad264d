"""The library's repository, made safe for threads that share its aggregate cache.

eventsourcing 9.5.6 fast-forwards a cached aggregate under a per-aggregate lock, but deep-copies it for the caller
after releasing that lock, so one thread's copy can run while another thread fast-forwards the same object:
"RuntimeError: dictionary changed size during iteration" (seen under gunicorn's threaded workers). Here the whole
cached read of one aggregate is serialised, with a fixed set of striped locks.
"""

from __future__ import annotations

from threading import Lock
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, Repository
from eventsourcing.utils import strtobool

STRIPES = 64


class CacheSafeRepository(Repository[UUID]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stripes = tuple(Lock() for _ in range(STRIPES))

    def get(self, aggregate_id: UUID, *, version: int | None = None, **kwargs: Any) -> Any:
        if not self.cache or version is not None:
            return super().get(aggregate_id, version=version, **kwargs)
        with self._stripes[hash(aggregate_id) % STRIPES]:
            return super().get(aggregate_id, version=version, **kwargs)


def cache_safe_repository(app: Application[UUID]) -> CacheSafeRepository:
    """What ``Application.construct_repository`` builds, from the same settings, with the reads serialised."""
    maxsize = app.env.get(app.AGGREGATE_CACHE_MAXSIZE)
    return CacheSafeRepository(
        event_store=app.events,
        snapshot_store=app.snapshots,
        cache_maxsize=int(maxsize) if maxsize else None,
        fastforward=strtobool(app.env.get(app.AGGREGATE_CACHE_FASTFORWARD, "y")),
        fastforward_skipping=strtobool(app.env.get(app.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")),
        deepcopy_from_cache=strtobool(app.env.get(app.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
    )
