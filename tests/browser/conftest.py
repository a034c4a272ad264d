"""Browser fixtures: a real server (werkzeug, background thread) over the demo ledger (the whole scenario) in a
temporary SQLite data directory, and headless Chromium driven by Selenium with Debian's chromium and chromedriver
(nothing downloaded).

Without Chromium the browser tests are skipped, saying why; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from api.demo.sqlite_file import load_demo_file
from api.extension import extension
from api.testing import close_app, make_app
from ledger.access import issue_token
from projections.queries import ProgressQueries

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1600", "--lang=zh-CN")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason} (scripts/test installs Debian's chromium and chromium-driver "
                "when run as root; CI=true turns this skip into a failure)")


@dataclass
class DemoServer:
    url: str
    auditor: str  # token secrets
    officer_lanzhou: str
    hebei_project: str  # a project id in 长安区's first township


@pytest.fixture(scope="module")
def demo_server() -> Iterator[DemoServer]:
    data_dir = tempfile.mkdtemp(prefix="ledger-browser-")
    dbname = Path(data_dir) / "ledger.sqlite"
    load_demo_file(dbname)
    app = make_app({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "LEDGER_DATA_DIR": data_dir,
                    "SQLITE_DBNAME": str(dbname)})
    with app.app_context():
        ledger = extension().app
        auditor, _ = issue_token(ledger, actor_name="演示 审计人员", role="auditor", scope="", issued_by="tests")
        officer, _ = issue_token(ledger, actor_name="演示 兰州市财务人员", role="officer", scope="6201",
                                 issued_by="tests")
        extension().views_at_least(None)
        rows = ProgressQueries(extension().read_side.queries).progress(on=date(2025, 1, 1), region="130102001")
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, name="console-server", daemon=True)
    thread.start()
    try:
        yield DemoServer(f"http://127.0.0.1:{server.server_port}", auditor, officer, str(rows[0]["project_id"]))
    finally:
        server.shutdown()
        thread.join(timeout=10)
        close_app(app)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            _unavailable(f"{path} is missing")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        _unavailable(f"selenium is not installed ({error})")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as error:  # any failure to start the browser is reported the same way
        shutil.rmtree(profile, ignore_errors=True)
        _unavailable(f"Chromium did not start: {str(error).splitlines()[0] if str(error) else error!r}")
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
