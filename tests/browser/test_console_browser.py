"""The auditor console in real headless Chromium: sign in, drill down to a township, open a project, see its chart
and a finding's evidence, record a decision; an officer of 兰州市 cannot open a Hebei project. Each page is saved
as a screenshot in tests/browser/artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import ARTIFACTS, DemoServer

pytestmark = pytest.mark.slow


def _by() -> Any:
    from selenium.webdriver.common.by import By

    return By


def _shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _sign_in(driver: Any, server: DemoServer, token: str) -> None:
    by = _by()
    driver.delete_all_cookies()
    driver.get(server.url + "/console/")
    assert "/console/login" in driver.current_url  # not signed in: sent to the sign-in form
    driver.find_element(by.ID, "token").send_keys(token)
    _navigate(driver, driver.find_element(by.ID, "sign-in"))


def _navigate(driver: Any, element: Any) -> None:
    """Clicks a link or a form's button and waits until the next page has replaced this one: the click returns once
    the request is sent, so the next lookup could otherwise still see the old page."""
    old = driver.find_element(_by().TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 120).until(lambda d: staleness_of(old)(d)
                                     and d.execute_script("return document.readyState") == "complete")


def _click_link(driver: Any, text: str) -> None:
    _navigate(driver, driver.find_element(_by().LINK_TEXT, text))


def test_auditor_drills_down_to_a_township_project_and_acknowledges_a_finding(browser: Any,
                                                                                demo_server: DemoServer) -> None:
    by, d = _by(), browser
    _sign_in(d, demo_server, demo_server.auditor)
    assert d.find_element(by.TAG_NAME, "h1").text == "未结问题总览"
    assert int(d.find_element(by.ID, "open-total").text) > 0
    families = d.find_element(by.ID, "by-severity").text
    assert "EAR" in families and "LAG" in families
    _shot(d, "01-overview")

    _click_link(d, "河北省")
    assert "河北省" in d.find_element(by.ID, "region-name").text
    assert "石家庄市" in d.find_element(by.ID, "rollup").text
    assert d.find_element(by.ID, "coverage").is_displayed()
    _shot(d, "02-province")
    _click_link(d, "石家庄市")
    _shot(d, "03-city")
    _click_link(d, "长安区")
    assert "长安区" in d.find_element(by.ID, "region-name").text
    _shot(d, "04-county")
    township = d.find_elements(by.CSS_SELECTOR, "#rollup tbody td a")[0]
    township_name = township.text
    _navigate(d, township)
    assert township_name in d.find_element(by.ID, "region-name").text
    assert "乡镇(街道)" in d.find_element(by.ID, "region-name").text
    _shot(d, "05-township")

    _navigate(d, d.find_element(by.CSS_SELECTOR, "#projects tbody a"))
    assert township_name in d.find_element(by.ID, "project-name").text
    chart = d.find_element(by.ID, "progress-chart")
    assert chart.tag_name == "svg"
    series = {line.get_attribute("class") for line in chart.find_elements(by.TAG_NAME, "polyline")}
    assert series == {"series-time", "series-plan", "series-spent"}
    assert len(chart.find_elements(by.TAG_NAME, "circle")) >= 3 * 12
    assert d.find_elements(by.CSS_SELECTOR, "#ledger-lines tbody tr")
    assert d.find_elements(by.CSS_SELECTOR, ".finding-evidence table.evidence tbody tr")
    _shot(d, "06-project")

    _navigate(d, d.find_element(by.CSS_SELECTOR, "#project-findings a[href*='/console/findings/']"))
    assert d.find_elements(by.CSS_SELECTOR, "#evidence table.evidence tbody tr")
    assert "未处理" in d.find_element(by.ID, "finding-status").text
    _shot(d, "07-finding")

    from selenium.webdriver.support.ui import Select

    Select(d.find_element(by.ID, "decision")).select_by_value("acknowledge")
    d.find_element(by.ID, "note").send_keys("已核实,责令整改。")
    _navigate(d, d.find_element(by.ID, "record-decision"))
    assert "已确认" in d.find_element(by.ID, "finding-status").text
    assert "确认问题" in d.find_element(by.ID, "decisions").text
    assert "已记录" in d.find_element(by.CLASS_NAME, "flash").text
    _shot(d, "08-finding-acknowledged")


def test_officer_of_lanzhou_cannot_open_a_hebei_project(browser: Any, demo_server: DemoServer) -> None:
    by, d = _by(), browser
    _sign_in(d, demo_server, demo_server.officer_lanzhou)
    regions = d.find_element(by.ID, "regions").text
    assert "兰州市" in regions and "河北省" not in regions
    _shot(d, "09-officer-overview")
    d.get(f"{demo_server.url}/console/projects/{demo_server.hebei_project}")
    assert d.find_element(by.ID, "error-title").text.startswith("403")
    _shot(d, "10-officer-forbidden")
    finding_page = d.find_elements(by.ID, "decision-form")
    assert not finding_page
