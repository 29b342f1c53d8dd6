"""The console's heartbeats page in headless Chromium: the tree of definitions with the state
of each (a silent leaf turns late, its relay and sibling stay on time), an admin's form (the
API's 400 on the field it names, the tree's interval rule), delete with a confirm step, and a
viewer who sees it all without a control."""

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import APIRequestContext, Locator, Page, expect

from tests.integration.console_site import (  # noqa: F401
    PASSWORD,
    browser,
    console,
    page,
    screenshot,
    site,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def heartbeats_removed(console):  # noqa: F811
    """The heartbeats the module made are gone after it (other modules share the database)."""
    yield
    console.db.heartbeats.delete_many({"_id": {"$regex": "^console-"}})


HEARTBEATS = "/api/v2/heartbeats"


@pytest.fixture
def admin_api(console, browser) -> Iterator[APIRequestContext]:  # noqa: F811
    """The API as the user admin (a browser context's requests, with its session cookie)."""
    context = browser.new_context(base_url=console.base)
    login = context.request.post("/api/v2/auth/login", data={"name": "admin", "password": PASSWORD})
    assert login.ok, login.text()
    yield context.request
    context.close()


def create(api: APIRequestContext, heartbeat_id: str, interval: float, **more) -> None:
    """A heartbeat matching the ``heartbeat`` events of the component ``heartbeat_id``."""
    body = {
        "_id": heartbeat_id,
        "match": {"event_type": "heartbeat", "component": heartbeat_id},
        "interval": interval,
        **more,
    }
    resp = api.post(HEARTBEATS, data=body)
    assert resp.status == 201, resp.text()


def node(where: Page, heartbeat_id: str) -> Locator:
    return where.locator(f'.hb-node[data-heartbeat="{heartbeat_id}"]')


def test_a_heartbeat_tree_with_a_late_leaf_shows_it_late(console, page, admin_api):  # noqa: F811
    relay, fine, silent = (console.unique(n) for n in ("hb-relay", "hb-leaf", "hb-silent"))
    create(admin_api, relay, 600)
    create(admin_api, fine, 300, parent=relay)
    create(admin_api, silent, 2, parent=relay)
    console.login(page, "admin", "/console/heartbeats")
    # the engine matches events against the definitions it has loaded: once it tracks them
    for heartbeat_id in (relay, fine):
        expect(node(page, heartbeat_id)).to_have_attribute("data-state", "ok")
        expect(node(page, heartbeat_id)).to_contain_text("last event never")
        console.send(event_type="heartbeat", component=heartbeat_id)

    expect(node(page, silent)).to_have_attribute("data-state", "late", timeout=30_000)
    expect(node(page, silent)).to_contain_text("late since")
    expect(node(page, silent)).to_contain_text("last event never")
    for on_time in (relay, fine):
        expect(node(page, on_time)).to_have_attribute("data-state", "ok")
        expect(node(page, on_time)).to_contain_text("on time")
        expect(node(page, on_time)).not_to_contain_text("last event never")
    expect(node(page, relay)).to_contain_text("relay of 2")
    expect(node(page, relay)).to_contain_text("1 late below")
    # the leaves are drawn in the list below their relay
    below = page.locator(f'li:has(> .hb-node[data-heartbeat="{relay}"]) > ul > li > .hb-node')
    expect(below).to_have_count(2)
    expect(below.nth(0)).to_contain_text("leaf")
    node(page, relay).scroll_into_view_if_needed()
    screenshot(page, "heartbeats")


def test_an_admin_creates_a_heartbeat_in_the_form_where_a_refused_interval_is_marked(
    console,  # noqa: F811
    page,  # noqa: F811
):
    name = console.unique("hb-form")
    console.login(page, "admin", "/console/heartbeats")
    page.get_by_role("button", name="New heartbeat").click()
    form = page.get_by_role("form", name="heartbeat form")
    form.get_by_label("Id", exact=True).fill(name)
    form.get_by_label("Match").fill(json.dumps({"component": name}))
    interval = form.get_by_label("Interval (seconds)")
    interval.fill("0")
    form.get_by_role("button", name="Create").click()
    expect(interval).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#hb-interval-about .field-error")).to_have_text(
        "expected a number of seconds greater than 0"
    )
    expect(form.get_by_role("alert")).to_contain_text("invalid heartbeat")

    interval.fill("45")
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved heartbeat {name}.")
    expect(node(page, name)).to_contain_text("every 45 s")

    node(page, name).get_by_role("button", name="Edit").click()
    expect(interval).to_have_value("45")
    interval.fill("50")
    form.get_by_role("button", name="Save").click()
    expect(node(page, name)).to_contain_text("every 50 s")

    # a child may not wait longer than its parent: the page says so on the interval
    node(page, name).get_by_role("button", name="Add child").click()
    form.get_by_label("Id", exact=True).fill(f"{name}-child")
    form.get_by_label("Match").fill(json.dumps({"component": f"{name}-child"}))
    expect(form.get_by_label("Parent")).to_have_value(name)
    expect(form).to_contain_text("here less than 50 s")
    interval.fill("60")
    form.get_by_role("button", name="Create").click()
    expect(interval).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#hb-interval-about .field-error")).to_contain_text(
        f"must be less than the interval of its parent {name} (50 s)"
    )
    form.get_by_role("button", name="Cancel").click()

    node(page, name).get_by_role("button", name="Delete").click()
    node(page, name).get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted heartbeat {name}.")
    expect(node(page, name)).to_have_count(0)


def test_a_viewer_sees_the_heartbeats_without_a_control(console, page, admin_api):  # noqa: F811
    name = console.unique("hb-viewed")
    create(admin_api, name, 120, description="seen by everyone")
    console.login(page, "viewer", "/console/heartbeats")
    expect(node(page, name)).to_contain_text("seen by everyone")
    expect(node(page, name)).to_contain_text("every 120 s")
    expect(page.locator("main").get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("form")).to_have_count(0)
