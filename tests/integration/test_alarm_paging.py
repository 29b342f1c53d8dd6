"""Keyset paging of ``GET /api/v2/alarms`` (``after``/``next``): every order walks the list
once, and walking a list that changes between pages never answers an alarm twice nor misses
one that did not change; offset paging (``page``) does repeat alarms then."""

import base64
import json
import random
import time

import pytest
from conftest import error

pytestmark = pytest.mark.integration

#: (sort, direction) of every order the API offers
ORDERS = [
    (sort, direction)
    for sort in ("last_update_date", "creation_date", "state", "component", "resource")
    for direction in ("desc", "asc")
]


@pytest.fixture
def listing(api):
    """200 open alarms: dates shared by threes (ties broken by _id), a resource missing on
    one alarm in five (null sorts first), states 0 to 3; and a viewer's headers."""
    now = time.time()
    rng = random.Random(15)
    api.db.alarms.insert_many([_alarm(i, now - 1000 + i // 3, rng) for i in range(200)])
    return api.as_role("viewer")


def _alarm(i: int, date: float, rng: random.Random) -> dict:
    return {
        "_id": f"r{i}/c{i % 7}:{i:04d}",
        "entity_id": f"r{i}/c{i % 7}",
        "component": f"c{i % 7}",
        "resource": None if i % 5 == 0 else f"r{rng.randrange(40)}",
        "state": {"val": rng.randrange(4)},
        "status": {"val": 1},
        "creation_date": date - rng.randrange(3),
        "last_update_date": date,
    }


def _get(api, viewer, **params) -> dict:
    resp = api.simulate_get("/api/v2/alarms", params=params, headers=viewer)
    assert resp.status_code == 200, resp.text
    return resp.json


def _walk(api, viewer, limit: int, between=lambda: None, **params) -> list[str]:
    """The ids of every page, following each page's next; ``between`` runs between pages."""
    seen: list[str] = []
    body = _get(api, viewer, limit=limit, **params)
    while True:
        seen += [alarm["_id"] for alarm in body["items"]]
        assert body["total"] == _open(api)
        if body["next"] is None:
            return seen
        between()
        body = _get(api, viewer, limit=limit, after=body["next"], **params)


def _open(api) -> int:
    return api.db.alarms.count_documents({})


@pytest.mark.parametrize(("sort", "direction"), ORDERS)
def test_following_next_walks_the_whole_list_in_its_order(api, listing, sort, direction):
    whole = [
        a["_id"] for a in _get(api, listing, sort=sort, direction=direction, limit=1000)["items"]
    ]
    assert len(whole) == 200
    for limit in (1, 7, 50, 200):
        assert _walk(api, listing, limit, sort=sort, direction=direction) == whole
    pages = [_get(api, listing, sort=sort, direction=direction, limit=7, page=p) for p in (1, 2)]
    after = _get(api, listing, sort=sort, direction=direction, limit=7, after=pages[0]["next"])
    assert after["items"] == pages[1]["items"]


@pytest.mark.parametrize(("sort", "direction"), ORDERS)
def test_walking_a_changing_list_answers_no_alarm_twice_and_every_unchanged_one(
    api, listing, sort, direction
):
    """Between pages, five alarms get a new date (to the top) and a new state, one is resolved
    and one opens: as the alerts engine does in a storm."""
    rng = random.Random(f"{sort}{direction}")
    changed: set[str] = set()
    opened = iter(range(1000, 2000))

    def change() -> None:
        ids = [a["_id"] for a in api.db.alarms.find({}, {"_id": 1})]
        sample = rng.sample(ids, 6)
        changed.update(sample)
        for alarm_id in sample[:5]:
            update = {"last_update_date": time.time(), "state.val": rng.randrange(4)}
            api.db.alarms.update_one({"_id": alarm_id}, {"$set": update})
        api.db.alarms.delete_one({"_id": sample[5]})
        new = _alarm(next(opened), time.time(), rng)
        changed.add(new["_id"])
        api.db.alarms.insert_one(new)

    before = {a["_id"] for a in api.db.alarms.find({}, {"_id": 1})}
    seen = _walk(api, listing, 9, change, sort=sort, direction=direction)
    assert len(seen) == len(set(seen)), "an alarm answered twice"
    assert len(changed) > 60
    assert before - changed <= set(seen), "an unchanged alarm missed"


def test_offset_pages_repeat_alarms_when_alarms_move_up_meanwhile(api, listing):
    """What keyset paging is for: the same changes between offset pages shift the list
    down, and the next page starts with alarms already answered."""
    seen: list[str] = []
    for page in range(1, 6):
        seen += [a["_id"] for a in _get(api, listing, limit=20, page=page)["items"]]
        bottom = api.db.alarms.find({}, {"_id": 1}).sort("last_update_date", 1).limit(3)
        for alarm in list(bottom):
            api.db.alarms.update_one(
                {"_id": alarm["_id"]}, {"$set": {"last_update_date": time.time()}}
            )
    assert len(seen) - len(set(seen)) == 12


def _text(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "not a cursor"}, "after"),
        ({"after": "W10"}, "after"),  # []
        ({"after": "WyJzdGF0ZSIsLTEsNSw3LDEsIngiXQ", "sort": "state"}, "after"),  # no state 7
        ({"after": "WzEsMiwzXQ", "sort": "state"}, "after"),  # [1,2,3]
        ({"after": "WyJzdGF0ZSIsLTEsNywxLCJ4Il0", "sort": "state"}, "after"),  # no walk start
        # an integer beyond what the database stores
        ({"after": _text(["last_update_date", -1, 1e9, 10**30, "x"])}, "after"),
    ],
)
def test_a_cursor_not_made_by_the_api_is_400_naming_after(api, listing, params, field):
    resp = api.simulate_get("/api/v2/alarms", params=params, headers=listing)
    assert resp.status_code == 400, resp.text
    assert error(resp)["fields"] == {
        field: "not the next of a page with the same sort and direction"
    }


def test_a_cursor_of_another_order_or_with_a_page_is_400(api, listing):
    first = _get(api, listing, limit=5)
    other = api.simulate_get(
        "/api/v2/alarms", params={"after": first["next"], "direction": "asc"}, headers=listing
    )
    assert other.status_code == 400 and set(error(other)["fields"]) == {"after"}
    paged = api.simulate_get(
        "/api/v2/alarms", params={"after": first["next"], "page": 2}, headers=listing
    )
    assert paged.status_code == 400 and set(error(paged)["fields"]) == {"page"}
    last = _get(api, listing, limit=200)
    assert last["next"] is None and len(last["items"]) == 200
