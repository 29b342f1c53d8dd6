"""The bodies an operator sends to act on open alarms through the REST API.

``POST /api/v2/alarms/{alarm_id}/{action}`` takes ``output`` and the fields of
:data:`ACTION_FIELDS` for that action; the bulk ``POST /api/v2/alarms/{action}``
also takes ``ids``. Each field follows the rule the engines check it by
(:data:`canopsis.domain.event.FIELDS`), with the bounds an operator's action
has. :data:`BODIES` and :data:`BULK_BODIES` are the JSON Schemas the REST API
validates with and publishes.
"""

from canopsis.domain.event import ACTION_TYPES, FIELDS

MAX_IDS = 1000
MAX_SNOOZE = 31_536_000
#: the body fields of each action besides ``output``: name -> required
ACTION_FIELDS: dict[str, dict[str, bool]] = {
    "snooze": {"duration": True},
    "declareticket": {"ticket": False},
    "assocticket": {"ticket": True},
    "changestate": {"state": True},
}
FIELD_SCHEMAS = {
    "output": FIELDS["output"].schema(),
    "duration": {
        **FIELDS["duration"].schema(),
        "maximum": MAX_SNOOZE,
        "x-expected": f"an integer number of seconds from 1 to {MAX_SNOOZE}",
    },
    "ticket": {**FIELDS["ticket"].schema(), "x-expected": "a non-blank string"},
    "state": {**FIELDS["state"].schema(), "x-expected": "an integer from 0 to 3"},
}
_IDS = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_IDS,
    "items": {"type": "string", "minLength": 1, "x-expected": "an alarm id"},
    "x-expected": f"a list of 1 to {MAX_IDS} alarm ids",
}


def _body(action: str, bulk: bool) -> dict:
    spec = ACTION_FIELDS.get(action, {})
    properties = {name: FIELD_SCHEMAS[name] for name in ("output", *spec)}
    required = [name for name, needed in spec.items() if needed]
    if bulk:
        properties["ids"] = _IDS
        required.append("ids")
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


#: action -> the schema of its body, for one alarm
BODIES = {action: _body(action, bulk=False) for action in ACTION_TYPES}
#: action -> the schema of its body, for the alarms of ``ids``
BULK_BODIES = {action: _body(action, bulk=True) for action in ACTION_TYPES}
#: what any action's body may hold, for one alarm
ANY_BODY = {"type": "object", "additionalProperties": False, "properties": FIELD_SCHEMAS}
