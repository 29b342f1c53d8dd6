"""The console's alarm detail, entity list and entity page in headless Chromium: the
timeline of steps with the operator as author, the entity's relations, alarm and
enable/disable (admin only), a chart of a metric sent as perf data, and the list's
filters in the URL."""

import re
import time
import urllib.parse

import pytest
from playwright.sync_api import Page, expect

from tests.integration.console_site import (  # noqa: F401
    Console,
    browser,
    console,
    page,
    screenshot,
    site,
)

pytestmark = pytest.mark.integration


def _wait_for_metric(canopsis: Console, entity_id: str, metric: str, timeout: float = 30) -> None:
    """Until the perfdata engine stored ``metric`` of ``entity_id``."""
    deadline = time.monotonic() + timeout
    while canopsis.db.metrics.find_one({"entity_id": entity_id, "metric": metric}) is None:
        assert time.monotonic() < deadline, f"no metric {metric} of {entity_id}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def loaded(console: Console) -> dict:  # noqa: F811
    """An open major alarm on ``load`` of a component of its own, with perf data."""
    component = console.unique("host")
    console.send(
        component=component,
        resource="load",
        state=2,
        output="load is <b>high</b>",
        perf_data="load1=2.5;1;2;0 load5=1.5;1;2;0",
    )
    alarm = console.alarm(component, "load")
    _wait_for_metric(console, alarm["entity_id"], "load1")
    return alarm


def _quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _ack_as(tab: Page, canopsis: Console, alarm_id: str, message: str) -> None:
    """Ack through the API with the session of ``tab`` (its user is the author)."""
    answer = tab.request.post(
        canopsis.url(f"/api/v2/alarms/{_quoted(alarm_id)}/ack"), data={"output": message}
    )
    assert answer.status == 202, answer.text()


def test_the_detail_shows_the_timeline_and_the_operator_who_acked(
    console: Console,  # noqa: F811
    page: Page,  # noqa: F811
    loaded: dict,
):
    console.login(page, "operator", f"/console/alarm?id={_quoted(loaded['_id'])}")
    timeline = page.get_by_role("region", name="timeline")
    expect(timeline.locator("li.step-stateinc")).to_contain_text("state increased to major")
    expect(page.locator(".alarm-header .output")).to_have_text("load is <b>high</b>")
    expect(page.locator(".alarm-header")).to_contain_text(loaded["component"])

    _ack_as(page, console, loaded["_id"], "looking at it")
    acked = timeline.locator("li.step-ack")
    expect(acked).to_contain_text("acknowledged")
    expect(acked.locator(".step-who")).to_have_text("by operator")
    expect(acked.locator(".step-message")).to_have_text("looking at it")
    # newest first: the ack is above the state step
    expect(timeline.locator("li").first).to_have_class(re.compile(r"\bstep-ack\b"))

    entity = page.get_by_role("region", name="entity")
    expect(entity.locator(".entity-enabled")).to_have_text("yes")
    expect(entity.get_by_role("link", name=loaded["entity_id"])).to_have_attribute(
        "href", f"/console/entity?id={_quoted(loaded['entity_id'])}"
    )
    chart = page.locator('figure.metric[data-metric="load1"]')
    expect(chart.locator(".metric-summary")).to_contain_text("latest 2.5")
    expect(chart.locator("canvas")).to_be_visible()

    history = page.get_by_role("region", name="history")
    history.get_by_role("button", name="Show the entity's history").click()
    expect(history.locator("tbody tr").first).to_be_visible()
    expect(history.locator("tbody")).to_contain_text("load is <b>high</b>")
    screenshot(page, "alarm-detail")


def test_the_entity_page_shows_its_alarm_relations_and_a_chart_with_points(
    console: Console,  # noqa: F811
    page: Page,  # noqa: F811
    loaded: dict,
):
    entity_id = loaded["entity_id"]
    console.login(page, "viewer", f"/console/entity?id={_quoted(entity_id)}")
    current = page.get_by_role("region", name="current alarm")
    expect(current.locator(".state")).to_have_text("major")
    expect(current.get_by_role("link")).to_have_attribute(
        "href", f"/console/alarm?id={_quoted(loaded['_id'])}"
    )
    relations = page.get_by_role("region", name="relations")
    expect(relations.get_by_role("list", name="depends on")).to_have_text(loaded["component"])

    chart = page.locator('figure.metric[data-metric="load1"]')
    expect(chart.locator("figcaption")).to_contain_text("load1")
    canvas = chart.locator("canvas")
    expect(canvas).to_be_visible()
    expect(chart.locator(".metric-summary")).to_contain_text("1 point · latest 2.5")
    # uPlot's legend shows the value of the point under the cursor
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(chart.locator(".u-legend .u-series").nth(1)).to_contain_text("2.5")
    expect(page.locator('figure.metric[data-metric="load5"] .metric-summary')).to_contain_text(
        "latest 1.5"
    )
    # a viewer sees no enable/disable
    expect(page.get_by_role("region", name="information")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^(Disable|Enable)$"))).to_have_count(0)
    screenshot(page, "entity")

    relations.get_by_role("link", name=loaded["component"]).click()
    expect(page).to_have_url(console.url(f"/console/entity?id={_quoted(loaded['component'])}"))
    impacts = page.get_by_role("list", name="impacts")
    expect(impacts.get_by_role("link", name=entity_id)).to_be_visible()
    expect(page.get_by_role("region", name="current alarm")).to_contain_text("No open alarm.")


def test_the_chart_says_when_a_range_holds_no_data(
    console: Console,  # noqa: F811
    page: Page,  # noqa: F811
    loaded: dict,
):
    console.login(page, "viewer", f"/console/entity?id={_quoted(loaded['entity_id'])}")
    chart = page.locator('figure.metric[data-metric="load1"]')
    expect(chart.locator("canvas")).to_be_visible()
    page.get_by_label("custom", exact=True).check()
    page.get_by_label("From", exact=True).fill("2020-01-01T00:00")
    page.get_by_label("To", exact=True).fill("2020-01-02T00:00")
    page.get_by_role("button", name="Show").click()
    expect(chart.locator(".no-data")).to_have_text("no data in this range")
    page.get_by_label("last week").check()
    page.get_by_label("Aggregation").select_option("max")
    expect(chart.locator("figcaption")).to_contain_text("max per")
    expect(chart.locator(".metric-summary")).to_contain_text("latest 2.5")


def test_an_admin_disables_and_enables_an_entity(
    console: Console,  # noqa: F811
    page: Page,  # noqa: F811
):
    component = console.unique("spare")
    console.send(component=component, state=0, output="fine")
    _wait_for_entity(console, component)
    console.login(page, "admin", f"/console/entity?id={_quoted(component)}")
    info = page.get_by_role("region", name="information")
    expect(info.locator(".entity-enabled")).to_have_text("yes")
    info.get_by_role("button", name="Disable").click()
    expect(info.get_by_role("status")).to_have_text("Disabled: its events are dropped.")
    expect(info.locator(".entity-enabled")).to_have_text("no (disabled)")
    assert console.db.entities.find_one({"_id": component})["enabled"] is False
    info.get_by_role("button", name="Enable").click()
    expect(info.get_by_role("status")).to_have_text("Enabled.")
    expect(info.locator(".entity-enabled")).to_have_text("yes")


def _wait_for_entity(canopsis: Console, entity_id: str, timeout: float = 30) -> None:
    """Until the context engine made ``entity_id``."""
    deadline = time.monotonic() + timeout
    while canopsis.db.entities.find_one({"_id": entity_id}) is None:
        assert time.monotonic() < deadline, f"no entity {entity_id}"
        time.sleep(0.1)


def test_the_entity_list_search_and_type_are_in_the_url(
    console: Console,  # noqa: F811
    page: Page,  # noqa: F811
):
    component = console.unique("listed")
    for resource in ("cpu", "disk"):
        console.send(component=component, resource=resource, state=1, output="meh")
    for resource in ("cpu", "disk"):
        _wait_for_entity(console, f"{resource}/{component}")
    _wait_for_entity(console, component)
    console.login(page, "viewer", "/console/entities")
    rows = page.locator("table.entity-list tbody tr")
    expect(rows.first).to_be_visible()
    page.get_by_role("searchbox").fill(component)
    expect(page).to_have_url(console.url(f"/console/entities?search={component}"))
    expect(rows).to_have_count(3)
    page.get_by_label("Type").select_option("resource")
    expect(page).to_have_url(console.url(f"/console/entities?search={component}&type=resource"))
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(f"cpu/{component}")
    page.go_back()
    expect(rows).to_have_count(3)
    page.go_forward()
    expect(page).to_have_url(console.url(f"/console/entities?search={component}&type=resource"))
    expect(rows).to_have_count(2)
    rows.first.get_by_role("link").click()
    expect(page).to_have_url(console.url(f"/console/entity?id={_quoted(f'cpu/{component}')}"))
    expect(page.get_by_role("region", name="current alarm").locator(".state")).to_have_text("minor")


def test_the_entity_page_shows_the_pbehavior_it_is_in(
    console: Console,  # noqa: F811
    page: Page,  # noqa: F811
):
    component = console.unique("patched")
    console.send(component=component, state=0, output="fine")
    _wait_for_entity(console, component)
    console.login(page, "admin", f"/console/entity?id={_quoted(component)}")
    planned = page.get_by_role("region", name="planned maintenance")
    expect(planned).to_contain_text("Not in a pbehavior now.")
    now = int(time.time())
    made = page.request.post(
        console.url("/api/v2/pbehaviors"),
        data={
            "name": "kernel <i>patch</i>",
            "type": "maintenance",
            "reason": "security update",
            "filter": {"_id": component},
            "start": now - 60,
            "end": now + 3600,
        },
    )
    assert made.status == 201, made.text()
    try:
        page.reload()
        expect(planned).to_contain_text("kernel <i>patch</i>")
        expect(planned).to_contain_text("security update")
        expect(planned.locator("dd").nth(3)).to_have_text("admin")
    finally:
        page.request.delete(console.url(f"/api/v2/pbehaviors/{_quoted(made.json()['_id'])}"))
