"""The console's planned maintenance page in headless Chromium: an admin makes a weekly
maintenance through the form (times read in the browser's time zone, not UTC), sees its
periods in the preview, the list and the calendar, and a matching alarm gets flagged; a
refused form shows the API's message on the field it names; delete asks first; a viewer and
an operator see the page without a control."""

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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

#: the browser's time zone in these tests: half an hour off any UTC hour, no daylight saving
ZONE = "Asia/Colombo"
#: how the console writes a period: start, en dash, end
DASH = " \u2013 "
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: the pbehavior engine reads the pbehaviors every reload_interval (10 s), then flags alarms
FLAGGED = 45_000


@pytest.fixture
def zoned(browser) -> Iterator[Page]:  # noqa: F811
    """A page of a browser whose time zone is :data:`ZONE`."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id=ZONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def admin_api(console, browser) -> Iterator[APIRequestContext]:  # noqa: F811
    """The API as the user admin (a browser context's requests, with its session cookie)."""
    context = browser.new_context(base_url=console.base)
    login = context.request.post("/api/v2/auth/login", data={"name": "admin", "password": PASSWORD})
    assert login.ok, login.text()
    yield context.request
    context.close()


def local(moment: datetime) -> str:
    """``moment`` as a datetime-local value."""
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture(scope="module", autouse=True)
def maintenance_removed(console):  # noqa: F811
    """The maintenance the module made is gone after it (other modules share the database)."""
    yield
    console.db.pbehaviors.delete_many({"name": {"$regex": "^console-"}})


def shown(moment: datetime) -> str:
    """``moment`` as the console writes a time."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def row(where: Page, name: str) -> Locator:
    return where.get_by_role("table", name="pbehaviors").get_by_role("row").filter(has_text=name)


def fill_basics(form: Locator, name: str, component: str, start: datetime, end: datetime):
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Reason").fill("disk swap")
    form.get_by_label("Filter").fill(json.dumps({"component": component}))
    form.get_by_label("Start", exact=True).fill(local(start))
    form.get_by_label("End", exact=True).fill(local(end))


def test_an_admin_makes_a_weekly_maintenance_that_flags_a_matching_alarm(console, zoned):  # noqa: F811
    tab = zoned
    name, component = console.unique("pbh-weekly"), console.unique("pbh-db")
    start = (datetime.now(ZoneInfo(ZONE)) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=1)
    day = WEEKDAYS[start.weekday()]
    console.login(tab, "admin", "/console/pbehaviors")
    tab.get_by_role("button", name="New maintenance").click()
    form = tab.get_by_role("form", name="pbehavior form")
    expect(form.get_by_label("Time zone")).to_have_value(ZONE)
    fill_basics(form, name, component, start, end)
    form.get_by_label("Repeats").select_option("weekly")
    expect(form.get_by_label(day, exact=True)).to_be_checked()
    expect(form.locator('code[aria-label="rule"]')).to_have_text(
        f"FREQ=WEEKLY;BYDAY={day[:2].upper()}"
    )
    form.get_by_role("button", name="Create").click()

    expect(tab.get_by_role("status")).to_have_text(f"Saved {name}.")
    preview = tab.get_by_role("region", name="next periods")
    expect(preview).to_contain_text(shown(start) + DASH + shown(end))
    week_later = (shown(start + timedelta(days=7)), shown(end + timedelta(days=7)))
    expect(preview).to_contain_text(DASH.join(week_later))
    expect(row(tab, name)).to_contain_text(f"now, until {shown(end)}")
    expect(row(tab, name)).to_contain_text("FREQ=WEEKLY")

    calendar = tab.get_by_role("region", name="calendar")
    today = calendar.locator(f'.pbh-week-day[data-day="{start:%Y-%m-%d}"]')
    block = today.locator(".pbh-event", has_text=name)
    expect(block).to_be_visible()
    expect(block).to_contain_text(f"{start:%H:%M}")
    expect(calendar).to_contain_text(f"times in {ZONE}")
    form.get_by_role("button", name="Close").click()
    calendar.scroll_into_view_if_needed()
    screenshot(tab, "pbehaviors")

    # next week at the same hour; the month view shows it on its day
    calendar.get_by_role("button", name=re.compile("^Next")).click()
    next_day = f"{start + timedelta(days=7):%Y-%m-%d}"
    expect(calendar.locator(f'[data-day="{next_day}"] .pbh-event', has_text=name)).to_be_visible()
    calendar.get_by_role("button", name="Month").click()
    expect(calendar).to_have_attribute("data-view", "month")
    first_day = calendar.locator(f'[data-day="{start:%Y-%m-%d}"] .pbh-event', has_text=name)
    expect(first_day).to_have_count(1)

    # next week's occurrence skipped from the preview: an exdate, saved
    row(tab, name).get_by_role("button", name="Edit").click()
    preview.get_by_role("listitem").filter(has_text=week_later[0]).get_by_role(
        "button", name="Skip"
    ).click()
    skipped = form.get_by_role("group", name="Skipped occurrences (exdates)")
    expect(skipped).to_contain_text(shown(start + timedelta(days=7))[:16])
    form.get_by_role("button", name="Save").click()
    expect(tab.get_by_role("status")).to_have_text(f"Saved {name}.")
    expect(preview).not_to_contain_text(week_later[0])
    expect(preview).to_contain_text(DASH.join(shown(t + timedelta(days=14)) for t in (start, end)))

    console.send(component=component, resource="disk", state=2, output="disk full")
    tab.goto(console.url(f"/console/?component={component}"))
    flag = tab.locator(".badge-pbehavior")
    expect(flag).to_have_text(f"maintenance: {name}", timeout=FLAGGED)


def test_a_refused_form_shows_the_api_message_on_its_field_and_delete_asks(console, page):  # noqa: F811
    name, component = console.unique("pbh-refused"), console.unique("pbh-web")
    start = datetime.now().replace(second=0, microsecond=0) + timedelta(days=1)
    console.login(page, "admin", "/console/pbehaviors")
    page.get_by_role("button", name="New maintenance").click()
    form = page.get_by_role("form", name="pbehavior form")
    fill_basics(form, name, component, start, start - timedelta(hours=1))
    form.get_by_role("button", name="Create").click()
    end = form.get_by_label("End", exact=True)
    expect(end).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#pbh-end-about .field-error")).to_have_text("must be after start")
    expect(form.get_by_role("alert")).to_contain_text("invalid pbehavior")

    # a filter the API refuses is named by its operator's path: marked on the filter
    end.fill(local(start + timedelta(hours=2)))
    form.get_by_label("Filter").fill(json.dumps({"component": {"$like": component}}))
    form.get_by_role("button", name="Create").click()
    expect(form.get_by_label("Filter")).to_have_attribute("aria-invalid", "true")
    expect(end).not_to_have_attribute("aria-invalid", "true")
    expect(form.locator("#pbh-filter-about .field-error")).to_have_text("unknown operator")

    form.get_by_label("Filter").fill(json.dumps({"component": component}))
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved {name}.")
    expect(row(page, name)).to_contain_text(shown(start))
    expect(page.get_by_role("region", name="next periods")).to_contain_text(shown(start))

    row(page, name).get_by_role("button", name="Delete").click()
    expect(row(page, name)).to_contain_text(f"Really delete {name}?")
    row(page, name).get_by_role("button", name="Yes").click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted {name}.")
    expect(row(page, name)).to_have_count(0)
    expect(page.get_by_role("form")).to_have_count(0)


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_others_see_the_maintenance_without_a_control(console, page, admin_api, role):  # noqa: F811
    name = console.unique(f"pbh-{role}")
    now = time.time()
    body = {
        "name": name,
        "type": "pause",
        "reason": "seen by everyone",
        "filter": {"component": name},
        "start": now - 60,
        "end": now + 3600,
    }
    created = admin_api.post("/api/v2/pbehaviors", data=body)
    assert created.status == 201, created.text()
    console.login(page, role, "/console/pbehaviors")
    expect(row(page, name)).to_contain_text("seen by everyone")
    expect(row(page, name)).to_contain_text("now, until")
    calendar = page.get_by_role("region", name="calendar")
    expect(calendar.locator(".pbh-event", has_text=name).first).to_be_visible()
    expect(page.get_by_role("button", name="New maintenance")).to_have_count(0)
    expect(page.get_by_role("table", name="pbehaviors").get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("form")).to_have_count(0)
