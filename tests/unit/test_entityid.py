"""Entity ids: one rule for every type, and no two entities share an id."""

import itertools
from urllib.parse import unquote

from canopsis.domain import event
from canopsis.domain.entityid import component_id, connector_id, escape, resource_id
from canopsis.store.entities import entity_ids

#: names that tried to make two ids equal under the former rule or a naive one
TRICKY = [
    "nagios",
    "n1",
    "a",
    "b",
    "a/b",
    "b/c",
    "connector",
    "x/connector",
    "%",
    "%2F",
    "%25",
    "a%2Fb",
    "/",
    "//",
    "a/",
    "/b",
    "disk /var",
    "é/ü",
    "",
]


def test_the_collision_of_issue_13_is_gone():
    # connector zab/z1 about resource nagios of component n1, and connector nagios named n1
    resource = event.entity_id({"source_type": "resource", "resource": "nagios", "component": "n1"})
    assert resource == resource_id("nagios", "n1") == "nagios/n1"
    assert connector_id("nagios", "n1") == "nagios/n1/connector"
    assert connector_id("zab", "z1") == "zab/z1/connector"


def test_the_context_engine_names_the_connector_and_the_resource_apart():
    nagios = {"connector": "nagios", "connector_name": "n1", "source_type": "component"}
    zab = {"connector": "zab", "connector_name": "z1", "source_type": "resource"}
    resource = {**zab, "component": "n1", "resource": "nagios"}
    resource["entity_id"] = event.entity_id(resource)
    connector, _component, _resource = entity_ids({**nagios, "component": "web1"})
    _connector, component, resource_id_ = entity_ids(resource)
    assert len({connector, component, resource_id_}) == 3
    assert resource_id_ == "nagios/n1"


def test_common_names_read_as_they_are():
    assert component_id("web1.example.com") == "web1.example.com"
    assert resource_id("cpu", "web1") == "cpu/web1"
    assert resource_id("disk /var", "db1") == "disk %2Fvar/db1"
    assert resource_id("load 50%", "db1") == "load 50%25/db1"
    assert connector_id("nagios", "nagios-paris") == "nagios/nagios-paris/connector"


def test_no_two_entities_of_any_types_share_an_id():
    components = [c for c in TRICKY if "/" not in c]  # the event model refuses '/' there
    ids: dict[str, tuple] = {}
    named = [("component", c) for c in components]
    named += [("resource", r, c) for r, c in itertools.product(TRICKY, components)]
    named += [("connector", c, n) for c, n in itertools.product(TRICKY, TRICKY)]
    for entity in named:
        kind, *parts = entity
        eid = {"component": component_id, "resource": resource_id, "connector": connector_id}[kind](
            *parts
        )
        assert ids.setdefault(eid, entity) == entity, f"{entity} and {ids[eid]} share {eid!r}"
    assert len(ids) == len(named)


def test_escape_writes_only_percent_and_slash_and_is_undone_by_percent_decoding():
    for name in TRICKY:
        assert "/" not in escape(name)
        assert unquote(escape(name)) == name
    assert escape("a.b*c é") == "a.b*c é"
