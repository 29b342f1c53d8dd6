"""The console's alarm list in headless Chromium: alarms appear live, filters and sort live
in the URL, operators act on one alarm or a selection, a viewer cannot act, event texts
stay text, and the page catches up after the webserver restarts.

Every test finds its own alarms by a unique tag in their component names (the database
is shared by every module), through the list's search."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import wait_for_port
from tests.integration.console_site import (  # noqa: F401
    Console,
    browser,
    console,
    page,
    screenshot,
    site,
)

pytestmark = pytest.mark.integration

CHANGED = re.compile(r"\bchanged\b")
#: long enough for an event to go through the engines and the next poll (every 2 s)
LIVE = 20_000


def rows(tab: Page):
    return tab.locator("table.alarms tbody tr")


def row(tab: Page, component: str):
    """The row of the alarm of ``component`` (its component cell links to the alarm)."""
    return rows(tab).filter(has=tab.get_by_role("link", name=component, exact=True))


def open_list(canopsis: Console, tab: Page, role: str, query: str) -> None:
    """``tab`` logged in as ``role`` on the alarm list of ``query`` (a URL query)."""
    canopsis.login(tab, role, f"/console/?{query}")
    expect(tab).to_have_url(canopsis.url(f"/console/?{query}"))


def send_alarms(canopsis: Console, tag: str, states: dict[str, int]) -> dict[str, str]:
    """An alarm for each ``name: state`` (component ``<tag>-<name>``); their ids by name."""
    for name, state in states.items():
        canopsis.send(component=f"{tag}-{name}", resource="check", state=state, output=name)
    return {name: canopsis.alarm(f"{tag}-{name}", "check")["_id"] for name in states}


def test_new_and_changed_alarms_appear_without_reload(console, page):  # noqa: F811
    tag = Console.unique("live")
    open_list(console, page, "operator", f"search={tag}")
    expect(page.get_by_text("No alarm matches.")).to_be_visible()
    console.send(component=f"{tag}-web", resource="http", state=2, output="slow answers")
    web = row(page, f"{tag}-web")
    expect(web).to_be_visible(timeout=LIVE)
    expect(web).to_have_class(CHANGED)  # a new row is highlighted for a moment
    expect(web.locator(".state")).to_have_text("major")
    expect(web).to_contain_text("slow answers")
    expect(web).to_contain_text("console/test")
    expect(web).not_to_have_class(CHANGED, timeout=5_000)
    # the operator's selection and open menu survive the rows changing
    web.get_by_role("checkbox").check()
    web.get_by_role("button", name=re.compile("^actions for")).click()
    menu = page.get_by_role("group", name=re.compile("actions on"))
    expect(menu).to_be_visible()
    console.send(component=f"{tag}-db", resource="disk", state=3, output="disk full")
    expect(row(page, f"{tag}-db")).to_be_visible(timeout=LIVE)
    console.send(component=f"{tag}-web", resource="http", state=3, output="no answer")
    expect(web.locator(".state")).to_have_text("critical", timeout=LIVE)
    expect(web).to_contain_text("no answer")
    expect(web.get_by_role("checkbox")).to_be_checked()
    expect(page.get_by_text("1 selected")).to_be_visible()
    expect(menu).to_be_visible()


def test_an_unchanged_list_costs_a_304_per_interval(console, page):  # noqa: F811
    tag = Console.unique("quiet")
    send_alarms(console, tag, {"q": 2})
    answers = []
    page.on(
        "response",
        lambda r: answers.append(r.status) if re.search(r"/api/v2/alarms\?", r.url) else None,
    )
    open_list(console, page, "viewer", f"search={tag}")
    expect(rows(page)).to_have_count(1, timeout=LIVE)
    answers.clear()
    page.wait_for_timeout(6_000)  # a measure of the request rate, not a wait for a result
    assert 2 <= len(answers) <= 4, answers
    assert answers.count(304) >= len(answers) - 1, answers


def test_filters_sort_and_page_live_in_the_url(console, page):  # noqa: F811
    tag = Console.unique("filter")
    send_alarms(console, tag, {"a": 1, "b": 3, "c": 2})
    open_list(console, page, "viewer", f"search={tag}")
    expect(rows(page)).to_have_count(3, timeout=LIVE)

    page.get_by_role("button", name="Component").click()
    expect(page).to_have_url(re.compile(r"sort=component&direction=asc"))
    expect(rows(page).locator("td.component")).to_have_text([f"{tag}-a", f"{tag}-b", f"{tag}-c"])
    page.get_by_role("button", name="Component").click()
    expect(page).to_have_url(re.compile(r"sort=component&direction=desc"))
    expect(rows(page).locator("td.component")).to_have_text([f"{tag}-c", f"{tag}-b", f"{tag}-a"])

    page.locator(".counts").get_by_role("button", name=re.compile("^critical")).click()
    expect(page).to_have_url(re.compile(r"state=3"))
    expect(rows(page).locator("td.component")).to_have_text([f"{tag}-b"])

    page.get_by_role("checkbox", name="major").check()
    expect(page).to_have_url(re.compile(r"state=2%2C3"))
    expect(rows(page).locator("td.component")).to_have_text([f"{tag}-c", f"{tag}-b"])

    page.go_back()
    expect(page).to_have_url(re.compile(r"state=3(&|$)"))
    expect(rows(page).locator("td.component")).to_have_text([f"{tag}-b"])
    page.go_back()
    expect(rows(page)).to_have_count(3)

    page.get_by_text("More filters").click()
    page.get_by_label("Component (exact)").fill(f"{tag}-c")
    page.get_by_label("Component (exact)").press("Enter")
    expect(page).to_have_url(re.compile(rf"component={tag}-c"))
    expect(rows(page).locator("td.component")).to_have_text([f"{tag}-c"])
    page.get_by_role("link", name="Clear filters").click()
    expect(page).to_have_url(console.url("/console/?sort=component&direction=desc"))
    page.goto(console.url(f"/console/?search={tag}"))

    page.get_by_label("Acked").select_option("yes")
    expect(page).to_have_url(re.compile(r"acked=true"))
    expect(page.get_by_text("No alarm matches.")).to_be_visible()

    # a bookmarked view comes back as it was
    page.goto(console.url(f"/console/?search={tag}&state=1&sort=component&direction=asc"))
    expect(rows(page).locator("td.component")).to_have_text([f"{tag}-a"])
    expect(page.get_by_role("checkbox", name="minor")).to_be_checked()


def test_ack_one_alarm_and_snooze_three_at_once(console, page):  # noqa: F811
    tag = Console.unique("act")
    send_alarms(console, tag, {"one": 2, "two": 3, "three": 1, "four": 2})
    open_list(console, page, "operator", f"search={tag}")
    expect(rows(page)).to_have_count(4, timeout=LIVE)

    row(page, f"{tag}-one").get_by_role("button", name=re.compile("^actions for")).click()
    page.get_by_role("group", name=re.compile("actions on")).get_by_role(
        "button", name="Ack", exact=True
    ).click()
    expect(page.locator(".notice").first).to_have_text(
        re.compile("Ack: (accepted|applied)"), timeout=LIVE
    )
    expect(page.locator(".notice").first).to_contain_text("Ack: applied to 1 alarm", timeout=LIVE)
    expect(row(page, f"{tag}-one").locator(".badge-ack")).to_have_text("acked by operator")

    for name in ("two", "three", "four"):
        row(page, f"{tag}-{name}").get_by_role("checkbox").check()
    bulk = page.get_by_role("region", name="selection")
    expect(bulk).to_contain_text("3 selected")
    bulk.get_by_role("button", name="Snooze…").click()
    bulk.get_by_label("Snooze for").select_option(label="4 h")
    bulk.get_by_role("button", name="Send").click()
    expect(page.locator(".notice").first).to_contain_text(
        "Snooze: applied to 3 alarms", timeout=LIVE
    )
    for name in ("two", "three", "four"):
        expect(row(page, f"{tag}-{name}").locator(".badge-snooze")).to_contain_text("snoozed until")
    expect(row(page, f"{tag}-one").locator(".badge-snooze")).to_have_count(0)


def test_an_action_the_api_refuses_shows_its_message_and_fields(console, page):  # noqa: F811
    tag = Console.unique("refused")
    send_alarms(console, tag, {"x": 2})
    open_list(console, page, "operator", f"search={tag}")
    row(page, f"{tag}-x").get_by_role("button", name=re.compile("^actions for")).click()
    menu = page.get_by_role("group", name=re.compile("actions on"))
    menu.get_by_role("button", name="Snooze…").click()
    menu.get_by_label("Snooze for").select_option(label="custom (minutes)")
    menu.get_by_role("spinbutton", name="Minutes").fill("1000000")
    menu.get_by_role("button", name="Send").click()
    notice = page.locator(".notice-error")
    expect(notice).to_contain_text("Snooze failed")
    expect(notice.get_by_role("alert")).to_contain_text("duration")


def test_a_viewer_sees_no_action_and_a_forged_one_is_refused(console, page):  # noqa: F811
    tag = Console.unique("viewer")
    ids = send_alarms(console, tag, {"v": 3})
    open_list(console, page, "viewer", f"search={tag}")
    expect(rows(page)).to_have_count(1, timeout=LIVE)
    expect(page.get_by_role("checkbox", name=re.compile("^select"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^actions for"))).to_have_count(0)
    expect(page.get_by_role("button", name="Ack")).to_have_count(0)
    # on a phone-sized window the less important columns go, the alarm's name stays
    page.set_viewport_size({"width": 390, "height": 800})
    expect(page.get_by_role("columnheader", name="Connector")).to_be_hidden()
    expect(row(page, f"{tag}-v")).to_be_visible()
    page.keyboard.press("j")
    page.keyboard.press("a")
    answer = page.request.post(console.url("/api/v2/alarms/ack"), data={"ids": [ids["v"]]})
    assert answer.status == 403
    assert console.alarm(f"{tag}-v", "check")["ack"] is None


def test_event_texts_are_shown_as_text(console, page):  # noqa: F811
    tag = Console.unique("xss")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attack = "<img src=x onerror=alert(1)>"
    console.send(component=f"{tag}-xss", resource=attack, state=3, output=attack)
    open_list(console, page, "operator", f"search={tag}")
    target = row(page, f"{tag}-xss")
    expect(target).to_be_visible(timeout=LIVE)
    expect(target.locator("td.output")).to_have_text(attack)
    expect(target.locator("td.resource")).to_have_text(attack)
    expect(page.locator("table.alarms img")).to_have_count(0)
    assert dialogs == []


def test_keyboard_moves_selects_acks_and_opens(console, page):  # noqa: F811
    tag = Console.unique("keys")
    ids = send_alarms(console, tag, {"k1": 1, "k2": 2})
    open_list(console, page, "operator", f"search={tag}&sort=component&direction=asc")
    expect(rows(page)).to_have_count(2, timeout=LIVE)
    page.keyboard.press("?")
    help_overlay = page.get_by_role("dialog", name="keyboard shortcuts")
    expect(help_overlay).to_contain_text("ack the selected alarms")
    page.keyboard.press("Escape")
    expect(help_overlay).to_have_count(0)
    page.keyboard.press("j")
    expect(rows(page).nth(0)).to_have_class(re.compile("focused"))
    page.keyboard.press("j")
    expect(rows(page).nth(1)).to_have_class(re.compile("focused"))
    page.keyboard.press("x")
    expect(rows(page).nth(1).get_by_role("checkbox")).to_be_checked()
    page.keyboard.press("a")
    expect(row(page, f"{tag}-k2").locator(".badge-ack")).to_be_visible(timeout=LIVE)
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/alarm\?id="))
    assert ids["k1"] in page.evaluate("decodeURIComponent(location.search)")


def test_the_page_catches_up_after_the_webserver_restarts(console, page):  # noqa: F811
    tag = Console.unique("restart")
    open_list(console, page, "operator", f"search={tag}")
    console.send(component=f"{tag}-before", resource="r", state=2)
    expect(row(page, f"{tag}-before")).to_be_visible(timeout=LIVE)
    console.services.stop("webserver")
    expect(page.get_by_text("The server cannot be reached")).to_be_visible()
    expect(row(page, f"{tag}-before")).to_be_visible()
    port = int(console.base.rsplit(":", 1)[1])
    wait_for_port(port, 30, console.services.start("webserver"))
    console.send(component=f"{tag}-after", resource="r", state=3)
    expect(row(page, f"{tag}-after")).to_be_visible(timeout=LIVE)
    expect(page.get_by_text("The server cannot be reached")).to_have_count(0)


def test_screenshot_of_the_alarm_list(console, page):  # noqa: F811
    tag = Console.unique("shot")
    states = {
        "web-frontend": 3,
        "db-primary": 3,
        "cache": 2,
        "mail-relay": 2,
        "backup": 1,
        "dns": 1,
        "ntp": 1,
        "api-gateway": 2,
    }
    send_alarms(console, tag, states)
    # two alarms back to OK (stealthy) so every state shows
    for name in ("ntp", "dns"):
        console.send(component=f"{tag}-{name}", resource="check", state=0, output="recovered")
    open_list(console, page, "operator", f"search={tag}&sort=state&direction=desc")
    expect(rows(page)).to_have_count(len(states), timeout=LIVE)
    expect(rows(page).locator(".state-0")).to_have_count(2, timeout=LIVE)
    act(page, f"{tag}-db-primary", "Ack")
    act(page, f"{tag}-web-frontend", "Associate ticket…", ("Ticket number", "INC-4242"))
    act(page, f"{tag}-backup", "Snooze…", ("Snooze for", "1 h"))
    expect(page.locator(".notice-applied")).to_have_count(3, timeout=LIVE)
    row(page, f"{tag}-cache").get_by_role("checkbox").check()
    row(page, f"{tag}-mail-relay").get_by_role("checkbox").check()
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.mouse.move(0, 0)
    screenshot(page, "alarm-list")


def act(tab: Page, component: str, action: str, field: tuple[str, str] | None = None) -> None:
    """``action`` on the alarm of ``component`` through its row menu (``field``: the label
    and value of what the action asks, a choice of a select or a text)."""
    row(tab, component).get_by_role("button", name=re.compile("^actions for")).click()
    menu = tab.get_by_role("group", name=re.compile("actions on"))
    menu.get_by_role("button", name=action, exact=True).click()
    if field is not None:
        control = menu.get_by_label(field[0])
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(label=field[1])
        else:
            control.fill(field[1])
        menu.get_by_role("button", name="Send").click()
    expect(menu).to_have_count(0)


def test_on_a_phone_the_list_shows_state_component_and_output_first(console, browser):  # noqa: F811
    tag = Console.unique("phone")
    console.send(component=f"{tag}-phone", resource="battery", state=2, output="low battery")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        tab = context.new_page()
        open_list(console, tab, "operator", f"search={tag}")
        target = row(tab, f"{tag}-phone")
        expect(target).to_be_visible(timeout=LIVE)
        expect(target.locator(".state")).to_be_in_viewport()
        expect(target.get_by_role("link", name=f"{tag}-phone")).to_be_in_viewport()
        expect(target.locator("td.output")).to_have_text("low battery")
        expect(target.locator("td.wide").first).to_be_hidden()
        screenshot(tab, "alarm-list-phone")
    finally:
        context.close()
