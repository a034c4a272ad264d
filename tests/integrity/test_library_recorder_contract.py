"""The chained recorders still keep the library's own recorder contract (eventsourcing.tests.persistence), and every
event those tests write, concurrent writers included, is chained: the log verifies after each of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase, NonInterleavingNotificationIDsBaseCase

from ledger.integrity.postgres import ChainedPostgresRecorder
from ledger.integrity.sqlite import ChainedSQLiteRecorder
from ledger.integrity.verify import verify_log


class _Verified:
    """Keeps every recorder a library test makes, and verifies its whole log when the test ends."""

    recorders: list[Any]
    datastores: list[Any]

    @pytest.fixture(autouse=True)
    def _verify_afterwards(self) -> Iterator[None]:
        self.recorders, self.datastores = [], []
        yield
        try:
            for recorder in self.recorders:
                report = verify_log(recorder, check_signature=None)
                assert report.outcome == "ok", report.problems[:5]
                assert report.chain_rows_checked == report.events_checked
        finally:
            for datastore in self.datastores:
                datastore.close()

    def kept(self, recorder: Any) -> Any:
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder


class _OnSQLite(_Verified):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.database = str(tmp_path / "library.sqlite")

    def create_recorder(self) -> ChainedSQLiteRecorder:
        datastore = SQLiteDatastore(self.database, lock_timeout=10)
        self.datastores.append(datastore)
        return self.kept(ChainedSQLiteRecorder(datastore))


class _OnPostgres(_Verified):
    @pytest.fixture(autouse=True)
    def _schema(self, postgres_env_for: Any, request: pytest.FixtureRequest) -> None:
        self.env = postgres_env_for(f"lib_{abs(hash(request.node.nodeid)) % 10**12}")

    def create_recorder(self) -> ChainedPostgresRecorder:
        env = self.env
        datastore = PostgresDatastore(env["POSTGRES_DBNAME"], env["POSTGRES_HOST"], env["POSTGRES_PORT"],
                                      env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], schema=env["POSTGRES_SCHEMA"],
                                      pool_size=4, max_overflow=10, lock_timeout=10)
        self.datastores.append(datastore)
        return self.kept(ChainedPostgresRecorder(datastore, events_table_name="library_events"))


@pytest.mark.sqlite
class TestChainedSQLiteRecorderKeepsTheLibrarysContract(_OnSQLite, ApplicationRecorderTestCase[ChainedSQLiteRecorder]):
    pass


@pytest.mark.sqlite
class TestChainedSQLiteRecorderNeverInterleavesSaves(_OnSQLite, NonInterleavingNotificationIDsBaseCase):
    insert_num = 200


class TestChainedPostgresRecorderKeepsTheLibrarysContract(_OnPostgres,
                                                          ApplicationRecorderTestCase[ChainedPostgresRecorder]):
    pass


class TestChainedPostgresRecorderNeverInterleavesSaves(_OnPostgres, NonInterleavingNotificationIDsBaseCase):
    insert_num = 200
