"""Headless Chromium for the status page's browser tests (Debian's chromium, driven by
Selenium through /usr/bin/chromedriver: nothing is downloaded).

`.ci/run` installs chromium; without it each browser test fails, naming the packages to
install (never a silent skip: the page would go untested).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1180",
)


def start_browser(profile: Path, downloads: Path | None = None):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "the status page's browser tests need Debian's chromium and chromium-driver: "
            "apt-get install chromium chromium-driver (.ci/run does)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    if downloads is not None:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )
    return driver


def listed(browser) -> list[str]:
    """The document numbers in the list, in order."""
    cells = browser.find_elements(By.XPATH, "//caption[@id='docs-h']/ancestor::table/tbody/tr/th/a")
    return [cell.text for cell in cells]


def summary(browser) -> str:
    return browser.find_element(By.ID, "list-summary").text


def csp_errors(browser) -> list[str]:
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]


def navigate(browser, action) -> None:
    """Do what loads another page, and wait (bounded) until the new one is there: a click
    returns before the old page is gone."""
    old = browser.find_element(By.TAG_NAME, "html")
    action()

    def loaded(driver) -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return driver.execute_script("return document.readyState") == "complete"
        return False

    # mid-navigation, chromedriver may answer with other errors: ask again
    WebDriverWait(browser, 20, 0.05, ignored_exceptions=(WebDriverException,)).until(loaded)


def click(browser, by: str, what: str) -> None:
    navigate(browser, browser.find_element(by, what).click)


def submit_filter(browser) -> None:
    click(browser, By.CSS_SELECTOR, "form[role=search] button[type=submit]")


def downloaded(folder: Path, suffix: str = ".csv", timeout: float = 30.0) -> Path:
    """The one finished download in `folder` (Chromium writes `.crdownload` until done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        partial = [p for p in folder.iterdir() if p.name.endswith(".crdownload")]
        if done and not partial:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} downloaded into {folder}")
