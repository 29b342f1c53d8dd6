"""The console's event-filter rules page in headless Chromium: a rule created in the editor
(the API's 400 marked on its field first) drops a test event while another passes, and its
hits rise in the list; the "try it" box shows what each rule does; an admin reorders,
disables and deletes rules; a viewer sees the list and the box without a control."""

import json
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import APIRequestContext, Locator, Page, expect

from tests.integration.console_site import (  # noqa: F401
    PASSWORD,
    Console,
    browser,
    console,
    page,
    screenshot,
    site,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def rules_removed(console):  # noqa: F811
    """The rules the module made are gone after it (other modules share the database)."""
    yield
    console.db.eventfilter_rules.delete_many({"_id": {"$regex": "^console-"}})


RULES = "/api/v2/eventfilter/rules"


@pytest.fixture
def admin_api(console, browser) -> Iterator[APIRequestContext]:  # noqa: F811
    """The API as the user admin (a browser context's requests, with its session cookie)."""
    context = browser.new_context(base_url=console.base)
    login = context.request.post("/api/v2/auth/login", data={"name": "admin", "password": PASSWORD})
    assert login.ok, login.text()
    yield context.request
    context.close()


def create(api: APIRequestContext, rule_id: str, match: dict, *actions: dict, **more) -> None:
    resp = api.post(RULES, data={"_id": rule_id, "match": match, "actions": list(actions), **more})
    assert resp.status == 201, resp.text()


def row(where: Page, rule_id: str) -> Locator:
    return where.locator(f'table.rules-list tr[data-rule="{rule_id}"]')


def until_the_engine_drops(console: Console, rule_id: str, prefix: str) -> int:  # noqa: F811
    """Probe events (components ``<prefix>-probe<n>``, one at a time, each until its fate is
    known) until the event filter has loaded the rule and drops one; its hits then."""
    for attempt in range(40):
        probe = f"{prefix}-probe{attempt}"
        console.send(component=probe, resource="cpu", state=2, output="probe")
        deadline = time.monotonic() + 30
        while True:
            hits = (console.db.eventfilter_rules.find_one({"_id": rule_id}) or {}).get("hits", 0)
            if hits:
                return hits
            if console.db.alarms.find_one({"component": probe}) is not None:
                break  # passed: the engine did not have the rule yet
            assert time.monotonic() < deadline, f"{probe} neither dropped nor an alarm"
            time.sleep(0.1)
    raise AssertionError(f"the event filter never applied {rule_id}")


def test_a_rule_created_in_the_editor_drops_an_event_and_its_hits_rise(
    console,  # noqa: F811
    page,  # noqa: F811
):
    prefix = console.unique("drop")
    rule_id = f"rule-{prefix}"
    console.login(page, "admin", "/console/rules")
    page.get_by_role("button", name="New rule").click()
    form = page.get_by_role("form", name="rule form")
    form.get_by_label("Id", exact=True).fill(rule_id)
    form.get_by_label("Match").fill(json.dumps({"component": {"$regex": f"^{prefix}"}}))
    actions = form.get_by_label("Actions")
    actions.fill(json.dumps([{"type": "drop"}, {"type": "add_tag", "value": "late"}]))
    form.get_by_role("button", name="Create").click()
    expect(actions).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#rule-actions-about .rule-problem")).to_contain_text(
        "actions.1: never runs: it follows drop"
    )
    expect(form.get_by_role("alert")).to_contain_text("invalid rule")

    actions.fill(json.dumps([{"type": "drop"}]))
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved rule {rule_id}.")
    expect(row(page, rule_id).locator(".rule-hits")).to_have_text("0")
    expect(row(page, rule_id).locator(".rule-last")).to_have_text("never")

    hits = until_the_engine_drops(console, rule_id, prefix)
    kept = console.unique("kept")
    console.send(component=f"{prefix}-gone", resource="cpu", state=3, output="dropped")
    console.send(component=kept, resource="cpu", state=3, output="kept")
    console.alarm(kept, "cpu")  # it came after the dropped one, through the same engines
    assert console.db.alarms.find_one({"component": f"{prefix}-gone"}) is None
    expect(row(page, rule_id).locator(".rule-hits")).to_have_text(str(hits + 1))
    expect(row(page, rule_id).locator(".rule-drops")).to_have_text(str(hits + 1))
    expect(row(page, rule_id).locator(".rule-last")).not_to_have_text("never")
    console.db.eventfilter_rules.delete_one({"_id": rule_id})


def test_the_try_box_shows_what_each_rule_does(console, page, admin_api):  # noqa: F811
    prefix = console.unique("try")
    tag, drop, other = f"tag-{prefix}", f"drop-{prefix}", f"other-{prefix}"
    mine = {"component": {"$regex": f"^{prefix}"}}
    create(admin_api, tag, mine, {"type": "set", "field": "site", "value": "paris"}, priority=-30)
    create(admin_api, other, {"component": "not-this-one"}, priority=-20)
    create(admin_api, drop, {**mine, "resource": "tmp"}, {"type": "drop"}, priority=-10)
    console.login(page, "admin", "/console/rules")
    expect(row(page, tag)).to_be_visible()

    box = page.get_by_role("region", name="try it")
    event = {"connector": "c", "connector_name": "n", "event_type": "check", "state": 2}
    event |= {"source_type": "resource", "component": f"{prefix}-web", "resource": "tmp"}
    box.get_by_label("An event").fill(json.dumps(event))
    box.get_by_role("button", name="Run").click()
    expect(box.locator(f'.rule-step[data-rule="{tag}"]')).to_contain_text('site set to "paris"')
    expect(box.locator(f'.rule-step[data-rule="{tag}"]')).to_have_attribute(
        "data-outcome", "edited"
    )
    expect(box.locator(f'.rule-step[data-rule="{other}"]')).to_contain_text("no match")
    expect(box.locator(f'.rule-step[data-rule="{drop}"]')).to_contain_text("dropped the event")
    expect(box.locator(".rule-verdict")).to_have_text(f"Dropped by {drop}.")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "rules")

    # another resource: it passes on, with the field the first rule set
    box.get_by_label("An event").fill(json.dumps({**event, "resource": "cpu"}))
    box.get_by_role("button", name="Run").click()
    expect(box.locator(".rule-verdict")).to_have_text("Passes on to the next engine.")
    expect(box.locator(".rule-json").last).to_contain_text('"site": "paris"')
    # a bad event: the API's 400 names the field, the box is marked
    box.get_by_label("An event").fill(json.dumps({**event, "state": 7}))
    box.get_by_role("button", name="Run").click()
    expect(box.get_by_role("alert")).to_contain_text("event.state")
    expect(box.get_by_label("An event")).to_have_attribute("aria-invalid", "true")
    # nothing was counted by the trials
    assert console.db.eventfilter_rules.find_one({"_id": drop}).get("hits") is None
    for rule_id in (tag, other, drop):
        assert admin_api.delete(f"{RULES}/{rule_id}").status == 204


def test_an_admin_reorders_disables_and_deletes_rules(console, page, admin_api):  # noqa: F811
    first, second = (console.unique(f"order-{n}") for n in ("a", "b"))
    create(admin_api, first, {"component": first}, priority=900)
    create(admin_api, second, {"component": second}, priority=900)
    console.login(page, "admin", "/console/rules")
    both = page.locator(f'tr[data-rule="{first}"], tr[data-rule="{second}"]')
    expect(both).to_have_count(2)
    expect(both.first).to_have_attribute("data-rule", first)

    page.get_by_role("button", name=f"move {second} up").click()
    expect(page.get_by_role("status")).to_have_text(f"Moved rule {second} up.")
    expect(both.first).to_have_attribute("data-rule", second)
    priority = {r["_id"]: r.get("priority", 0) for r in console.db.eventfilter_rules.find()}
    assert (priority[second], second) < (priority[first], first)

    row(page, first).get_by_role("button", name="Disable").click()
    expect(row(page, first)).to_have_attribute("data-enabled", "false")
    expect(row(page, first)).to_contain_text("disabled")
    row(page, first).get_by_role("button", name="Enable").click()
    expect(row(page, first)).to_have_attribute("data-enabled", "true")

    row(page, first).get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="rule form")
    form.get_by_label("Name").fill("renamed")
    form.get_by_label("Match").fill("{not json")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_label("Match")).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Match").fill(json.dumps({"component": first}))
    form.get_by_role("button", name="Save").click()
    expect(row(page, first)).to_contain_text("renamed")

    for rule_id in (first, second):
        row(page, rule_id).get_by_role("button", name="Delete").click()
        row(page, rule_id).get_by_role("button", name="Yes").click()
        expect(row(page, rule_id)).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(f"Deleted rule {second}.")


def test_a_viewer_sees_the_rules_and_the_try_box_without_a_control(
    console,  # noqa: F811
    page,  # noqa: F811
    admin_api,
):
    rule_id = console.unique("seen")
    create(admin_api, rule_id, {"component": rule_id}, {"type": "drop"}, priority=950)
    console.login(page, "viewer", "/console/rules")
    expect(row(page, rule_id)).to_contain_text("enabled")
    expect(page.get_by_role("link", name="Rules")).to_be_visible()
    for name in ("New rule", "Edit", "Delete", "Disable", "Enable"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("button", name=f"move {rule_id} up")).to_have_count(0)
    expect(page.get_by_role("form", name="rule form")).to_have_count(0)

    box = page.get_by_role("region", name="try it")
    event = {"connector": "c", "connector_name": "n", "event_type": "check", "state": 2}
    box.get_by_label("An event").fill(
        json.dumps({**event, "source_type": "component", "component": rule_id})
    )
    box.get_by_role("button", name="Run").click()
    expect(box.locator(".rule-verdict")).to_have_text(f"Dropped by {rule_id}.")
    assert admin_api.delete(f"{RULES}/{rule_id}").status == 204
