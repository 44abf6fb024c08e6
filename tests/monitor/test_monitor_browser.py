"""The monitor page in a real headless browser (chromium + selenium): a job submitted with
`void-bridge` appears, its progress moves without a reload, its thumbnails show, and an admin's
cancel from the page cancels it on the engine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.engine.engine_harness import wait_until
from tests.engine.test_client_cli import cli, job_flags

from .browser import browser_problem, headless_chrome
from .monitor_helpers import ADMIN, start_monitored

pytestmark = [
    pytest.mark.skipif(browser_problem() is not None, reason=str(browser_problem())),
    # The browser driver takes a port the kernel handed out and let go: run alone (tests/parallel.py).
    pytest.mark.serial,
]


def void_bridge(*args: str, home: Path) -> subprocess.CompletedProcess:
    return cli("bridge.cli", *args, home=home, timeout=60)


def submit(engine, shot, out: Path, home: Path) -> str:
    res = void_bridge("--engine", engine.endpoint, "submit", *job_flags(shot, out), home=home)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()[0]


@pytest.fixture
def browser():
    driver = headless_chrome()
    try:
        yield driver
    finally:
        driver.quit()


def progress_of(browser, jid: str) -> float:
    from selenium.webdriver.common.by import By

    bars = browser.find_elements(By.CSS_SELECTOR, f'tr.job[data-job="{jid}"] .bar-outer')
    return float(bars[0].get_attribute("data-progress") or -1) if bars else -1.0


def images_loaded(browser, kind: str) -> int:
    """How many thumbnails of the strip's ``kind`` row the browser has decoded."""
    return browser.execute_script(
        "return [...document.querySelectorAll(`.strip-row[data-kind='${arguments[0]}'] img`)]"
        ".filter(i => i.complete && i.naturalWidth > 0).length",
        kind,
    )


def test_a_job_from_void_bridge_appears_advances_shows_thumbnails_and_an_admin_cancels_it(
    engine_config, start_engine, sample_shot, tmp_path, browser
):
    from selenium.webdriver.common.by import By

    mon = start_monitored(engine_config, start_engine, step_s=0.25, worker__steps=40)
    browser.get(mon.url + "/")
    browser.execute_script("window.__sameDocument = true")
    home = tmp_path / "home"
    jid = submit(mon.engine, sample_shot, tmp_path / "out", home)

    assert wait_until(lambda: progress_of(browser, jid) > 0.15, 20), "the job never showed up running on the page"
    first = progress_of(browser, jid)
    assert wait_until(lambda: progress_of(browser, jid) > first + 0.05, 20), "progress did not move"
    assert browser.execute_script("return window.__sameDocument") is True  # no reload happened
    row = browser.find_element(By.CSS_SELECTOR, f'tr.job[data-job="{jid}"]')
    assert row.find_element(By.CSS_SELECTOR, "td.shot").text == "sample"
    assert "model · step" in row.find_element(By.CSS_SELECTOR, "td.stage").text

    row.find_element(By.CSS_SELECTOR, "td.id a").click()
    assert wait_until(lambda: images_loaded(browser, "plate") == 3, 20), "the plate thumbnails did not show"
    browser.save_screenshot(str(tmp_path / "job-page.png"))

    browser.find_element(By.ID, "admin-token").send_keys(ADMIN)
    browser.find_element(By.ID, "admin-unlock").click()
    assert wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, 'button[data-action="cancel"]'), 10)
    browser.find_element(By.CSS_SELECTOR, 'button[data-action="cancel"]').click()

    def engine_state() -> str:
        res = void_bridge("--engine", mon.engine.endpoint, "status", jid, home=home)
        return res.stdout.split()[1] if res.returncode == 0 else res.stderr

    assert wait_until(lambda: engine_state() == "cancelled", 20)
    assert wait_until(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "cancelled", 10)


def test_a_done_jobs_page_shows_its_plate_quadmask_and_result_strips(
    engine_config, start_engine, sample_shot, tmp_path, browser
):
    mon = start_monitored(engine_config, start_engine)
    home = tmp_path / "home"
    jid = submit(mon.engine, sample_shot, tmp_path / "out", home)
    assert void_bridge("--engine", mon.engine.endpoint, "status", jid, home=home).returncode == 0
    assert wait_until(lambda: mon.job(jid)["job"]["state"] == "done", 20)
    browser.get(f"{mon.url}/jobs/{jid}")
    for kind in ("plate", "quadmask", "result"):
        assert wait_until(lambda: images_loaded(browser, kind) == 3, 20), f"the {kind} thumbnails did not show"


def test_without_the_admin_token_the_page_offers_no_cancel(engine_config, start_engine, sample_shot, tmp_path, browser):
    from selenium.webdriver.common.by import By

    mon = start_monitored(engine_config, start_engine, step_s=0.25, worker__steps=40)
    jid = submit(mon.engine, sample_shot, tmp_path / "out", tmp_path / "home")
    browser.get(mon.url + "/")
    assert wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, f'tr.job[data-job="{jid}"]'), 20)
    browser.find_element(By.ID, "admin-token").send_keys("not-the-token")
    browser.find_element(By.ID, "admin-unlock").click()
    assert wait_until(lambda: "wrong" in browser.find_element(By.ID, "admin-state").text, 10)
    assert not browser.find_elements(By.CSS_SELECTOR, 'button[data-action="cancel"]')
