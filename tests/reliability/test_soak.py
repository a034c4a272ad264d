"""A short soak: the real server and projection worker under a steady posting load for about a minute, sampled
every fifteen seconds. Nothing acknowledged is lost or posted twice, no 5xx is answered, memory is sampled, and the
projection lag drains; the views equal a rebuild. The long run is `python -m scripts.soak` (one hour by default)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from scripts.soak import soak

pytestmark = pytest.mark.slow


def test_a_minute_of_steady_load_loses_nothing_answers_no_5xx_and_the_lag_drains(
        postgres_env_for: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_env = {**postgres_env_for(f"soak_{int(time.time() * 1000) % 10**9}"), "POSTGRES_POOL_SIZE": "2",
                 "POSTGRES_MAX_OVERFLOW": "4", "LEDGER_VIEWS_POOL_SIZE": "2"}
    result = soak("postgres", store_env, tmp_path, minutes=1.0, rate=25.0, sample_seconds=15.0, clients=4)

    assert len(result.samples) >= 4
    assert result.log["lost"] == 0 and result.log["duplicated"] == 0
    assert result.log["acknowledged"] == result.requests > 500
    assert not any(status[0] == "5" for status in result.statuses), result.statuses
    assert all(sample.server_rss > 0 and sample.worker_rss > 0 for sample in result.samples)
    assert result.samples[-1].lag_events == 0  # sampled after the load stopped and the worker caught up
    with capsys.disabled():
        print(f"\nsoak: {result.summary()}\n{result.table()}")
