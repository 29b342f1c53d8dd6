"""The operator console with many open alarms: the time from asking for ``/console/`` to its
first alarm rows shown, in Debian's Chromium, headless (Playwright drives it; nothing
downloads a browser). The browser logs in once; each sample is a new load of the page
(the browser keeps the console's files, as a returning operator's would)."""

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

from bench.stats import summary
from canopsis.domain import auth

CHROMIUM = "/usr/bin/chromium"
#: what the alarm list shows once its first page is there
FIRST_ROW = "table.alarms tbody tr[data-id]"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, without its sandbox (root runs it)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


def first_page(port: int, db, repeat: int) -> dict:
    """Seconds from navigation to the first rows of the alarm list, ``repeat`` loads."""
    name, password = f"console-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    auth.create_user(db, name, password, "viewer")
    base = f"http://127.0.0.1:{port}"
    samples = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        answer = page.request.post(
            f"{base}/api/v2/auth/login", data={"name": name, "password": password}
        )
        assert answer.ok, answer.text()
        for _ in range(repeat):
            start = time.perf_counter()
            page.goto(f"{base}/console/", wait_until="commit")
            page.locator(FIRST_ROW).first.wait_for(timeout=30_000)
            samples.append(time.perf_counter() - start)
        context.close()
    return summary(samples, (50, 95))
