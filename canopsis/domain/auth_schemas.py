"""The JSON Schemas of what clients send to log in and to manage users and API keys.

The REST API validates these bodies with :func:`canopsis.domain.schemas.problems`
and publishes the same schemas; what they cannot say (a key's expiry in the
future, a change naming something to change) is checked by the resources.
See :mod:`canopsis.domain.auth` for the documents themselves.
"""

from canopsis.domain.auth import ROLES
from canopsis.domain.event import LATEST
from canopsis.domain.schemas import object_schema

#: a user's name: what it may hold, and what a sender is told otherwise
NAME = {
    "type": "string",
    "pattern": "^[A-Za-z0-9._@-]{1,64}$",
    "x-expected": "1 to 64 characters of letters, digits, '.', '_', '@', '-'",
}
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_PASSWORD = {"type": "string", "minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}
_ROLE = {"enum": list(ROLES)}
_SECRET = {"type": "string", "minLength": 1, "x-expected": "a non-empty string"}

LOGIN = object_schema({"name": _SECRET, "password": _SECRET}, ["name", "password"])
NEW_USER = object_schema(
    {"name": NAME, "password": _PASSWORD, "role": _ROLE}, ["name", "password", "role"]
)
#: a change an admin makes to any user (one of role, password or disabled at least)
USER_CHANGE = object_schema(
    {
        "role": _ROLE,
        "password": _PASSWORD,
        "disabled": {"type": "boolean"},
        "current_password": {"type": "string"},
    }
)
#: a change a user who is not an admin makes to their own account
OWN_PASSWORD = object_schema(
    {"password": _PASSWORD, "current_password": USER_CHANGE["properties"]["current_password"]},
    ["current_password"],
)
NEW_KEY = object_schema(
    {
        "role": _ROLE,
        "description": {
            "type": "string",
            "maxLength": 200,
            "x-expected": "a string of at most 200 characters",
        },
        "expires": {
            "type": ["number", "null"],
            "maximum": LATEST,
            "description": "epoch seconds, future; null or absent: never",
            "x-expected": "epoch seconds before the year 10000",
        },
    },
    ["role"],
)
