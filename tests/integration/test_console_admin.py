"""The administrators' console pages in headless Chromium: the dead letters (edit then
replay, purge by age), users and API keys (a key made in the page works over plain HTTP
until revoked there, a user made there logs in), and what a viewer does not see."""

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from canopsis.domain.event import FieldError
from canopsis.runtime import deadletters
from tests.integration.console_site import (  # noqa: F401
    PASSWORD,
    browser,
    console,
    page,
    screenshot,
    site,
)
from tests.integration.test_pipeline import send, wait_for

pytestmark = pytest.mark.integration


def insert_letter(console, routing_key: str, age: float) -> str:  # noqa: F811
    """A dead letter refused `age` seconds ago, written straight into the database."""
    letter_id = uuid.uuid4().hex
    doc = deadletters.letter(
        letter_id,
        json.dumps({"component": routing_key}),
        [FieldError("state", "is required for a check event")],
        routing_key,
        "cleaner",
        time.time() - age,
    )
    console.db[deadletters.COLLECTION].insert_one(doc)
    return letter_id


def test_a_dead_letter_edited_and_replayed_becomes_an_alarm(console, page):  # noqa: F811
    component = console.unique("dl-fix")
    refused = {
        "connector": "console",
        "connector_name": "test",
        "event_type": "check",
        "source_type": "resource",
        "component": component,
        "resource": "disk",
        "state": 7,
        "output": "disk full",
    }
    # send_event checks events itself: the bad one goes straight to the broker
    send(console.services.amqp_url, refused)
    wait_for(
        lambda: console.db.dead_letters.find_one({"body": {"$regex": component}}),
        what="the dead letter",
    )
    console.login(page, "admin", "/console/deadletters")
    row = page.locator("tr.dl-row", has_text=component)
    row.click()
    detail = page.get_by_role("region", name="dead letter")
    expect(detail.locator("pre.dl-body")).to_contain_text('"state": 7')
    expect(detail).to_contain_text(f"console.{component}")

    detail.get_by_role("button", name="Edit and replay").click()
    editor = detail.get_by_label("The corrected event")
    expect(editor).to_have_value(json.dumps(refused, indent=2))
    editor.fill(json.dumps({**refused, "state": 2}, indent=2))
    detail.get_by_role("button", name="Replay the corrected event").click()
    expect(detail.get_by_role("status")).to_contain_text("Replayed the corrected event")
    replays = detail.locator(".dl-replays")
    expect(replays).to_contain_text("by admin")
    expect(replays.locator("pre")).to_contain_text('"state": 2')
    # the original stays as it was refused
    expect(detail.locator("pre.dl-body").first).to_contain_text('"state": 7')
    assert console.alarm(component, "disk")["state"]["val"] == 2
    screenshot(page, "deadletters")


def test_purge_by_age_removes_the_old_letters_and_keeps_the_recent_ones(
    console,  # noqa: F811
    page,  # noqa: F811
):
    old_key = console.unique("dl-old")
    recent_key = console.unique("dl-recent")
    old = insert_letter(console, old_key, 3 * 86400)
    insert_letter(console, recent_key, 60)
    console.login(page, "admin", "/console/deadletters")
    expect(page.locator("tr.dl-row", has_text=recent_key)).to_be_visible()

    page.get_by_label("Purge the letters older than").select_option(label="1 day")
    page.get_by_role("button", name="Purge").click()
    question = page.get_by_role("group", name="Really delete every dead letter older than 1 day?")
    question.get_by_role("button", name="No").click()
    assert console.db[deadletters.COLLECTION].find_one({"_id": old}) is not None
    page.get_by_role("button", name="Purge").click()
    question.get_by_role("button", name="Yes").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted")
    expect(page.locator("tr.dl-row", has_text=old_key)).to_have_count(0)
    expect(page.locator("tr.dl-row", has_text=recent_key)).to_be_visible()
    assert console.db[deadletters.COLLECTION].find_one({"_id": old}) is None


def call_with_key(console, secret: str) -> int:  # noqa: F811
    """The status of GET /api/v2/alarms with the API key `secret`, as a script sends it."""
    request = urllib.request.Request(
        console.url("/api/v2/alarms?limit=1"), headers={"Authorization": f"Key {secret}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as error:
        return error.code


def test_an_api_key_created_in_the_page_works_until_revoked_there(
    console,  # noqa: F811
    page,  # noqa: F811
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.base)
    description = console.unique("script")
    console.login(page, "admin", "/console/users")
    form = page.get_by_role("form", name="new API key")
    form.get_by_label("Description").fill(description)
    form.get_by_label("Role").select_option("operator")
    form.get_by_label("Expires after").select_option("30 days")
    form.get_by_role("button", name="Create key").click()
    shown = page.get_by_role("region", name="new key")
    secret = shown.locator("code.secret-key").inner_text()
    shown.get_by_role("button", name="Copy").click()
    expect(shown.get_by_role("status")).to_have_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    row = page.locator("tr", has_text=description)
    expect(row).to_contain_text("admin")  # the creator
    expect(row).to_contain_text("operator")
    assert call_with_key(console, secret) == 200

    shown.get_by_role("button", name="Done").click()
    expect(shown).to_have_count(0)
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Yes").click()
    expect(row).to_contain_text("revoked")
    assert call_with_key(console, secret) == 401


def test_an_admin_creates_a_user_who_can_then_log_in(console, page, browser):  # noqa: F811
    name = console.unique("ops")
    console.login(page, "admin", "/console/users")
    form = page.get_by_role("form", name="new user")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Role").select_option("operator")
    form.get_by_role("button", name="Create user").click()
    expect(form.get_by_role("status")).to_have_text(f"Created {name} (operator).")
    row = page.locator(f'tr[data-user="{name}"]')
    expect(row).to_contain_text("enabled")

    # the API's refusal, as it words it
    form.get_by_label("Name").fill(name)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create user").click()
    expect(form.get_by_role("alert")).to_contain_text(f"a user named {name} already exists")
    screenshot(page, "users")

    other = browser.new_context()
    try:
        theirs = other.new_page()
        theirs.goto(console.url("/console/login"))
        theirs.get_by_label("Name").fill(name)
        theirs.get_by_label("Password").fill(PASSWORD)
        theirs.get_by_role("button", name="Log in").click()
        expect(theirs.locator("header .who")).to_have_text(f"{name} (operator)")
    finally:
        other.close()

    row.get_by_role("combobox").select_option("viewer")
    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("disabled")
    wait_for(lambda: console.db.users.find_one({"_id": name, "role": "viewer"}), what="the role")
    row.get_by_role("button", name="Enable").click()
    expect(row).to_contain_text("enabled")
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Yes").click()
    expect(row).to_have_count(0)
    assert console.db.users.find_one({"_id": name}) is None


def test_a_viewer_sees_no_users_page_and_the_dead_letters_without_controls(
    console,  # noqa: F811
    page,  # noqa: F811
):
    key = console.unique("dl-viewer")
    letter_id = insert_letter(console, key, 30)
    console.login(page, "viewer", "/console/")
    nav = page.locator("header.top nav")
    expect(nav.get_by_role("link", name="Dead letters")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    page.goto(console.url("/console/users"))
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    page.goto(console.url(f"/console/deadletters?id={letter_id}"))
    detail = page.get_by_role("region", name="dead letter")
    expect(detail.locator("pre.dl-body")).to_contain_text(key)
    expect(page.locator("tr.dl-row", has_text=key)).to_be_visible()
    for control in ("Replay as it is", "Edit and replay", "Delete", "Purge"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
    expect(page.get_by_label("The corrected event")).to_have_count(0)
