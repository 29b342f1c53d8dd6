"""The console's frame in headless Chromium: served by the webserver with its policy, the
login and the way back to the page the user was on, logging out, an expired session."""

import urllib.request

import pytest
from playwright.sync_api import expect

from tests.integration.console_site import browser, console, page, site  # noqa: F401

pytestmark = pytest.mark.integration


def test_the_console_is_served_with_a_policy_forbidding_inline_script(console):  # noqa: F811
    with urllib.request.urlopen(console.url("/console/alarm?id=x")) as resp:
        policy = resp.headers["Content-Security-Policy"]
        page_text = resp.read().decode()
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert '<script type="module" src="/console/console.js">' in page_text
    with urllib.request.urlopen(console.url("/")) as resp:
        assert resp.url == console.url("/console/")


def test_login_leads_back_to_the_page_asked_for_and_logout_to_the_login(
    console,  # noqa: F811
    page,  # noqa: F811
):
    page.goto(console.url("/console/entities?search=web"))
    expect(page).to_have_url(
        console.url("/console/login?next=%2Fconsole%2Fentities%3Fsearch%3Dweb")
    )
    page.get_by_label("Name").fill("operator")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong name or password")
    page.get_by_label("Password").fill("console-test-password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(console.url("/console/entities?search=web"))
    expect(page.get_by_text("(operator)")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_an_expired_session_brings_the_login_back_then_the_same_page(
    console,  # noqa: F811
    page,  # noqa: F811
):
    console.login(page, "viewer", "/console/entities?type=component")
    expect(page).to_have_url(console.url("/console/entities?type=component"))
    console.db.sessions.delete_many({})
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.get_by_label("Name").fill("viewer")
    page.get_by_label("Password").fill("console-test-password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(console.url("/console/entities?type=component"))
