"""The console in Firefox (Debian's firefox-esr, headless, driven by Selenium through
geckodriver, which run-tests.sh builds from crates.io into the virtual environment): an
operator logs in and sees alarms appear without reloading, as in Chromium."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.firefox.options import Options
from selenium.webdriver.firefox.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.console_site import PASSWORD, console, site  # noqa: F401

pytestmark = pytest.mark.integration

FIREFOX = "/usr/bin/firefox-esr"
GECKODRIVER = Path(sys.executable).parent / "geckodriver"


@pytest.fixture
def firefox() -> Iterator[webdriver.Firefox]:
    assert GECKODRIVER.exists(), f"{GECKODRIVER} is missing: run-tests.sh builds it"
    options = Options()
    options.add_argument("-headless")
    options.binary_location = FIREFOX
    driver = webdriver.Firefox(service=Service(str(GECKODRIVER)), options=options)
    driver.set_window_size(1280, 800)
    yield driver
    driver.quit()


def row(driver: webdriver.Firefox, *texts: str, timeout: float = 15):
    """The alarm row holding every one of ``texts``, once it shows."""
    condition = " and ".join(f"contains(., '{text}')" for text in texts)
    return WebDriverWait(driver, timeout).until(
        lambda d: d.find_element(By.XPATH, f"//table//tr[{condition}]")
    )


def test_in_firefox_an_operator_logs_in_and_sees_a_new_alarm_without_reloading(
    console,  # noqa: F811
    firefox,
):
    component = console.unique("firefox")
    console.send(component=component, resource="disk", state=3, output="disk full")
    console.alarm(component, "disk")
    firefox.get(console.url(f"/console/?search={component}"))
    name = WebDriverWait(firefox, 15).until(lambda d: d.find_element(By.NAME, "name"))
    name.send_keys("operator")
    firefox.find_element(By.NAME, "password").send_keys(PASSWORD)
    firefox.find_element(By.XPATH, "//button[.='Log in']").click()
    assert "critical" in row(firefox, component, "disk full").text
    assert firefox.current_url == console.url(f"/console/?search={component}")
    console.send(component=component, resource="cpu", state=1, output="cpu busy")
    assert "minor" in row(firefox, component, "cpu busy").text
