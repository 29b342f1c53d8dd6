"""What several test modules build the same way."""

from canopsis.domain import event


def check_event(
    component: str = "web1",
    resource: str | None = "svc",
    *,
    connector: str = "nagios",
    connector_name: str = "nagios1",
    **fields: object,
) -> dict:
    """A check event sent about ``component``, or about its ``resource`` unless None (state 0
    unless ``fields`` say otherwise)."""
    ev = {
        "connector": connector,
        "connector_name": connector_name,
        "event_type": "check",
        "source_type": "resource" if resource else "component",
        "component": component,
        "state": 0,
        **fields,
    }
    if resource:
        ev["resource"] = resource
    return ev


#: what a nagios of Paris sends about a full disk, with a field of its own (``site``)
DISK_CHECK = check_event(
    "web1",
    "Disk /var",
    connector_name="nagios-paris",
    state=2,
    output="DISK CRITICAL - 95% used",
    site="paris",
)


def normalized(raw: dict, now: float, event_id: str) -> dict:
    """``raw`` checked and completed as the engines receive it, with ``event_id``."""
    ev, problems = event.normalize(raw, now)
    assert problems == []
    return {**ev, "event_id": event_id}
