"""collectd's JSON (``amqp`` write plugin, ``Format "JSON"``, ``StoreRates true``) as perf events.

A collectd body is a JSON list of value lists::

    [{"values": [1.003], "dstypes": ["gauge"], "dsnames": ["value"],
      "time": 1795432865.749, "interval": 10.0, "host": "vm", "plugin": "cpu",
      "plugin_instance": "", "type": "percent", "type_instance": "user"}]

:func:`translate` turns it into raw canopsis events (the cleaner normalises
them like any other), one ``perf`` event per host, plugin, plugin instance and
time, in the order of the body:

- ``component`` is the host, ``resource`` is ``plugin[-plugin_instance]``
  (``cpu``, ``df-root``, ``interface-eth0``), ``timestamp`` is collectd's time.
- One ``perf_data_array`` entry per value, named ``type[-type_instance]``, then
  ``-dsname`` unless the type has a single data source named ``value``:
  ``percent-user``, ``memory-used``, ``load-shortterm``, ``if_octets-rx``,
  ``disk_octets-read``. The names are collectd's own, so they stay stable across
  versions and match what collectd users see in other tools.
- ``unit`` is ``%`` for the ``percent*`` types and ``B`` for the byte types
  (:data:`BYTE_TYPES` and every ``*octets`` type), with ``/s`` for a data source
  that is not a gauge, which StoreRates turns into a rate per second
  (``if_octets-rx`` is in ``B/s``); any other type has no unit.
- A null value (collectd writes NaN as null, e.g. the first sample of a rate)
  is skipped; an event left without any value is not emitted.

A body that is not this shape raises :class:`CollectdFormatError` naming the
item (counted from 0, like a JSON list index) and what is wrong with it.
"""

import math
from collections.abc import Iterator

from canopsis.domain.jsonvalues import json_type
from canopsis.domain.values import is_number

CONNECTOR = "collectd"
REQUIRED_KEYS = ("values", "dstypes", "dsnames", "time", "host", "plugin", "type")
RECOGNIZED_KEYS = ("values", "dstypes", "dsnames", "host", "plugin")
BYTE_TYPES = ("bytes", "df_complex", "memory", "swap")


class CollectdFormatError(ValueError):
    """A body that is not collectd's JSON; the message names the item and the reason."""


def is_collectd(body: object) -> bool:
    """Whether ``body`` is a collectd body rather than a canopsis event or list of events.

    One recognisable item is enough, so that :func:`translate` names what is
    wrong with the others.
    """
    return isinstance(body, list) and any(
        isinstance(item, dict) and all(key in item for key in RECOGNIZED_KEYS) for item in body
    )


def translate(body: object, connector_name: str = CONNECTOR) -> list[dict]:
    """The perf events of a collectd body, or :class:`CollectdFormatError`."""
    if not isinstance(body, list):
        raise CollectdFormatError(f"body: expected a list of value lists, got {json_type(body)}")
    events: dict[tuple, dict] = {}
    for index, item in enumerate(body):
        _check(index, item)
        resource = _joined(item["plugin"], item.get("plugin_instance", ""))
        key = (item["host"], resource, item["time"])
        event = events.get(key)
        if event is None:
            event = events[key] = _event(connector_name, item["host"], resource, item["time"])
        event["perf_data_array"].extend(_metrics(item))
    return [event for event in events.values() if event["perf_data_array"]]


def _event(connector_name: str, host: str, resource: str, timestamp: float) -> dict:
    return {
        "connector": CONNECTOR,
        "connector_name": connector_name,
        "event_type": "perf",
        "source_type": "resource",
        "component": host,
        "resource": resource,
        "timestamp": timestamp,
        "perf_data_array": [],
    }


def _metrics(item: dict) -> Iterator[dict]:
    name = _joined(item["type"], item.get("type_instance", ""))
    single = item["dsnames"] == ["value"]
    for value, dstype, dsname in zip(item["values"], item["dstypes"], item["dsnames"], strict=True):
        if value is not None and math.isfinite(value):
            yield {
                "metric": name if single else f"{name}-{dsname}",
                "value": value,
                "unit": _unit(item["type"], dstype),
            }


def _unit(collectd_type: str, dstype: str) -> str | None:
    if collectd_type.startswith("percent"):
        return "%"
    if collectd_type in BYTE_TYPES or collectd_type.endswith("octets"):
        return "B" if dstype == "gauge" else "B/s"
    return None


def _joined(name: str, instance: str) -> str:
    return f"{name}-{instance}" if instance else name


def _check(index: int, item: object) -> None:
    where = f"item {index}"
    if not isinstance(item, dict):
        raise CollectdFormatError(f"{where}: expected an object, got {json_type(item)}")
    for key in REQUIRED_KEYS:
        if key not in item:
            raise CollectdFormatError(f"{where}: missing {key!r}")
    for key in ("host", "plugin", "type"):
        if not isinstance(item[key], str) or not item[key]:
            raise CollectdFormatError(f"{where}: {key!r} must be a non-empty string")
    for key in ("plugin_instance", "type_instance"):
        if not isinstance(item.get(key, ""), str):
            raise CollectdFormatError(f"{where}: {key!r} must be a string")
    if not is_number(item["time"]) or not 0 < item["time"] < math.inf:
        raise CollectdFormatError(f"{where}: 'time' must be a positive number of epoch seconds")
    _check_values(where, item)


def _check_values(where: str, item: dict) -> None:
    for key in ("values", "dstypes", "dsnames"):
        if not isinstance(item[key], list) or not item[key]:
            raise CollectdFormatError(f"{where}: {key!r} must be a non-empty list")
    sizes = {key: len(item[key]) for key in ("values", "dstypes", "dsnames")}
    if len(set(sizes.values())) > 1:
        counts = ", ".join(f"{count} {key}" for key, count in sizes.items())
        raise CollectdFormatError(f"{where}: the lists differ in length ({counts})")
    for position, value in enumerate(item["values"]):
        if value is not None and not is_number(value):
            raise CollectdFormatError(f"{where}: values[{position}] must be a number or null")
    for key in ("dstypes", "dsnames"):
        for position, text in enumerate(item[key]):
            if not isinstance(text, str) or not text:
                raise CollectdFormatError(f"{where}: {key}[{position}] must be a non-empty string")
