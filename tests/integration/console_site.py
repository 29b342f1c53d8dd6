"""What the console's browser tests share: canopsis running as installed (the engine chain
and the webserver under gunicorn, on the real broker and database), a user of each role,
events sent with ``send_event``, and headless Chromium (Debian's, driven by Playwright;
nothing downloads a browser).

A test module imports the fixtures it uses: ``from tests.integration.console_site import
browser, console, page, site  # noqa: F401``. Every module shares the session's database:
a test finds its own alarms by names of its own, starting with a ``Console.unique`` tag
(``<tag>-web``, never ``web-<tag>``: other modules find their alarms by prefixes such as
``before-``, ``two-`` or ``restart-``), and removes what it leaves active (a maintenance).
"""

import json
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymongo
import pytest
from configobj import ConfigObj
from playwright.sync_api import Browser, Page

from bench.console import chromium
from canopsis.domain import auth
from tests.conftest import Services, free_port, wait_for_port
from tests.integration.test_pipeline import CHAIN, site, start, stop  # noqa: F401

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: the password of the users ``viewer``, ``operator`` and ``admin`` the fixture makes
PASSWORD = "console-test-password"
#: gunicorn's sync workers as the install runs them, more of them: a connection a browser
#: opens ahead and leaves idle holds a sync worker until its timeout (30 s)
WEBSERVER = ("--workers", "4", "--timeout", "30")
ROLES = ("viewer", "operator", "admin")


@dataclass
class Console:
    """canopsis with its console at ``base`` (``http://127.0.0.1:<port>``)."""

    base: str
    services: Services
    db: pymongo.database.Database

    def url(self, path: str = "/console/") -> str:
        return self.base + path

    @staticmethod
    def unique(name: str) -> str:
        """``name`` made unique to this test run (for components, connectors), starting with
        ``console-`` so that no other module's prefix finds it."""
        return f"console-{name}-{uuid.uuid4().hex[:6]}"

    def send(self, **fields: object) -> None:
        """One event through ``send_event`` (fields as its JSON, e.g. ``component``)."""
        event = {"connector": "console", "connector_name": "test", "event_type": "check"}
        event.update(fields)
        if "resource" in event:
            event.setdefault("source_type", "resource")
        else:
            event.setdefault("source_type", "component")
        done = subprocess.run(
            [self.services.command("send_event"), "--file", "-"],
            input=json.dumps(event),
            env=self.services.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def alarm(self, component: str, resource: str | None = None, timeout: float = 30) -> dict:
        """The open alarm of ``component`` (``resource``) once the engines made it."""
        query = {"component": component, "resolved": None}
        if resource is not None:
            query["resource"] = resource
        deadline = time.monotonic() + timeout
        while (found := self.db.alarms.find_one(query)) is None:
            assert time.monotonic() < deadline, f"no alarm for {component}/{resource}"
            time.sleep(0.1)
        return found

    def login(self, page: Page, role: str, path: str = "/console/") -> None:
        """``page`` logged in as the user ``role`` through the login form, then at ``path``."""
        page.goto(self.url(f"/console/login?next={urllib.parse.quote(path, safe='/')}"))
        page.get_by_label("Name").fill(role)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_text(f"({role})").wait_for()

    def restart_webserver(self) -> None:
        """Stop gunicorn, then start it again on the same port."""
        self.services.stop("webserver")
        port = int(self.base.rsplit(":", 1)[1])
        wait_for_port(port, 30, self.services.start("webserver", *WEBSERVER))


@pytest.fixture(scope="module")
def console(site) -> Iterator[Console]:  # noqa: F811
    """The engine chain and the webserver running on ``site``, users of each role made."""
    conf = ConfigObj(str(site.prefix / "etc" / "webserver.conf"), interpolation=False)
    port = free_port()
    conf["server"]["port"] = port
    conf.write()
    (site.prefix / "var" / "run").mkdir(parents=True, exist_ok=True)
    client = pymongo.MongoClient(site.mongo_uri)
    db = client[site.database]
    for role in ROLES:
        if db[auth.USERS].find_one({"_id": role}) is None:
            auth.create_user(db, role, PASSWORD, role)
    engines = start(site, *CHAIN)
    try:
        wait_for_port(port, 30, site.start("webserver", *WEBSERVER))
        yield Console(f"http://127.0.0.1:{port}", site, db)
    finally:
        if "webserver" in site.procs:
            site.stop("webserver")
        stop(engines)
        client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, without its sandbox (the suite runs as root); one per
    module (each module that imports the fixture has its own, and two Playwright drivers
    cannot run at once in one thread)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page of a new browser context (no cookie), 1280 pixels wide."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Page, name: str) -> None:
    """Rewrite ``docs/screenshots/<name>.png`` from ``page`` (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
