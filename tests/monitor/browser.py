"""A real headless browser for the page tests: Debian's chromium driven by selenium.

``browser_problem()`` says what is missing (the tests skip with it); ``headless_chrome()`` starts one.
"""

from __future__ import annotations

import importlib.util
import shutil
from typing import Any

INSTALL_HINT = (
    "install Debian's browser and its driver: `apt-get install -y chromium chromium-driver` "
    "(and `pip install -c constraints.txt -r requirements.txt` for selenium); .ci/run does both"
)


def browser_problem() -> str | None:
    """None when chromium, chromedriver and selenium are all here; else a skip reason saying how to install."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium")
    return f"the page's browser tests need {', '.join(missing)}: {INSTALL_HINT}" if missing else None


def headless_chrome(width: int = 1480, height: int = 920) -> Any:
    """A headless chromium (no sandbox: CI runs as root in a container) at ``width`` x ``height``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.add_argument(f"--window-size={width},{height}")
    # The driver from the chromium-driver package: selenium must not try to download one.
    driver = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=opts)
    driver.set_page_load_timeout(30)
    return driver
