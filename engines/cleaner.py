"""The cleaner: the first engine. Decodes, validates and normalises what senders publish.

A message body is UTF-8 JSON: one event, a list of events, or collectd's JSON
(a list of value lists, recognised by :func:`canopsis.domain.collectd.is_collectd`
and translated into perf events by :func:`canopsis.domain.collectd.translate`).
Each event is normalised by :func:`canopsis.domain.event.normalize` and passed on
(``output`` and ``long_output`` cut to the option ``max_output_bytes``, 64 KiB
by default, the cut said at the end of the text);
what cannot be used goes to the dead letters, never dropped:

- a body that is not UTF-8 or not JSON (or holds NaN/Infinity): one dead
  letter with the whole raw body;
- a collectd body that is malformed: one dead letter with the whole body and
  :class:`~canopsis.domain.collectd.CollectdFormatError`'s message;
- an empty list: one dead letter ("holds no event");
- an invalid event: one dead letter per event, with that event's own JSON
  (the whole raw body when the body is that one event) and every reason.

Each event passed on gets an ``event_id``, its identity in the rest of the
pipeline (the alarm engine's idempotency key, the ``_id`` of its history
entry): the message's id for a body of one event, an id derived from it for
each event of a list, so that a redelivered message yields the same ids. A
message published without a ``message_id`` (every canopsis publisher sets one)
gets new ids on each delivery, and a redelivery of it may then be applied
twice. A sender's own ``event_id`` is replaced.
"""

import json
import time

from canopsis.domain import collectd
from canopsis.domain.event import MAX_OUTPUT_BYTES, FieldError, normalize
from canopsis.runtime.amqp import Delivery, derived_id
from canopsis.runtime.engine import Engine

#: the most ``max_output_bytes`` may be: two outputs of this size and the most steps an alarm
#: keeps stay well within MongoDB's 16 MB document limit
MAX_OUTPUT_LIMIT = 4 * 1024 * 1024


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


class Cleaner(Engine):
    options_spec = f"""
max_output_bytes = integer(min=1024, max={MAX_OUTPUT_LIMIT}, default={MAX_OUTPUT_BYTES})
"""
    raw = True

    def work(self, delivery: Delivery) -> list[dict]:
        now = time.time()
        try:
            text = delivery.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.refuse(delivery.body, [FieldError("body", f"not UTF-8 text: {exc}")])
            return []
        try:
            body = json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            self.refuse(text, [FieldError("body", f"not JSON: {exc}")])
            return []
        if collectd.is_collectd(body):
            try:
                items = collectd.translate(body)
            except collectd.CollectdFormatError as exc:
                self.refuse(text, [FieldError("body", f"collectd: {exc}")])
                return []
        elif isinstance(body, list):
            items = body
            if not items:
                self.refuse(text, [FieldError("body", "an empty list holds no event")])
        else:
            items = [body]
        single = not isinstance(body, list)
        max_output = self.options.get("max_output_bytes", MAX_OUTPUT_BYTES)
        events = []
        for index, item in enumerate(items):
            event, errors = normalize(item, now, max_output)
            if errors:
                self.refuse(text if single else json.dumps(item, ensure_ascii=False), errors)
                continue
            if single and delivery.message_id:
                event["event_id"] = delivery.message_id
            else:
                event["event_id"] = derived_id(delivery.message_id, index)
            events.append(event)
        return events
