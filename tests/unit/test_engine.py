"""The pure parts of the engine runtime: the in-memory chain, the cleaner, configuration."""

import json
import time

import pytest

from canopsis.cli import launch, send_event
from canopsis.domain import event
from canopsis.engines.cleaner import Cleaner
from canopsis.ops import config
from canopsis.runtime import amqp, beats, deadletters, engine, runner, topology
from canopsis.runtime.chain import Chain, Stats, build_chain, check_workers
from canopsis.runtime.engine import Engine, EngineConf


def conf(name: str, next_: str = "", **options) -> EngineConf:
    return EngineConf(name, next_, 60.0, 1, 100, 100, options, f"/etc/engines/{name}.conf")


def delivery(body: str | bytes, key: str = "rk", message_id: str | None = "m1") -> amqp.Delivery:
    return amqp.Delivery(body if isinstance(body, bytes) else body.encode(), key, message_id)


def good(**extra) -> dict:
    return {
        "connector": "nagios",
        "connector_name": "n1",
        "event_type": "check",
        "source_type": "resource",
        "component": "web1",
        "resource": "http",
        "state": 2,
        **extra,
    }


def chain_of(engines: list[Engine], confs: list[EngineConf]) -> Chain:
    """A chain whose next engines all have a configuration (one process each)."""
    return Chain(engines, confs, numprocs_of=lambda _name: 1)


class Upper(Engine):
    def work(self, ev):
        return {**ev, "output": ev.get("output", "").upper()}


class Split(Engine):
    def work(self, ev):
        return [ev, {**ev, "resource": "copy", "entity_id": f"copy/{ev['component']}"}]


class Boom(Engine):
    def work(self, ev):
        if ev["component"] == "bad":
            raise RuntimeError("kaput")
        return ev


def cleaner_chain(next_: str = "sink") -> Chain:
    return chain_of([Cleaner("cleaner", {}, None)], [conf("cleaner", next_)])


def test_cleaner_forwards_a_normalized_event_keyed_by_entity():
    chain = cleaner_chain()
    [fwd] = chain.process([delivery(json.dumps(good()))])
    assert fwd.engine == "sink"
    assert fwd.key == "http/web1"
    assert fwd.event["routing_key"] == "nagios.n1.check.resource.web1.http"
    assert not chain.sink.pending


def test_forwarded_ids_are_derived_from_the_message_id_so_a_redelivery_repeats_them():
    body = json.dumps([good(), good(component="web2")])
    first = [f.message_id for f in cleaner_chain().process([delivery(body)])]
    again = [f.message_id for f in cleaner_chain().process([delivery(body)])]
    assert first == again and len(set(first)) == 2


def test_cleaner_dead_letters_each_refused_event_of_a_list_with_its_own_body():
    chain = cleaner_chain()
    bad = good(state=9)
    forwards = chain.process([delivery(json.dumps([good(), bad]), key="list")])
    assert [f.event["component"] for f in forwards] == ["web1"]
    [letter] = chain.sink.pending
    assert json.loads(letter["body"]) == bad
    assert letter["routing_key"] == "list" and letter["engine"] == "cleaner"
    assert letter["reasons"][0]["field"] == "state"
    assert chain.stats["cleaner"].errors == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{oops", "not JSON"),
        ('{"state": NaN}', "not JSON"),
        (b"\xff", "not UTF-8 text"),
        ("[]", "an empty list holds no event"),
    ],
)
def test_cleaner_refuses_an_unreadable_body_whole(body, reason):
    chain = cleaner_chain()
    assert chain.process([delivery(body)]) == []
    [letter] = chain.sink.pending
    assert letter["reasons"][0]["field"] == "body"
    assert letter["reasons"][0]["reason"].startswith(reason)
    raw = body if isinstance(body, bytes) else body.encode()
    assert deadletters.decode_body(letter) == raw


def test_cleaner_refuses_a_non_object_event():
    chain = cleaner_chain()
    chain.process([delivery("42")])
    assert chain.sink.pending[0]["reasons"] == [
        {"field": "", "reason": "event must be a JSON object"}
    ]


def test_cleaner_translates_collectd_bodies():
    item = {
        "values": [1.5],
        "dstypes": ["gauge"],
        "dsnames": ["value"],
        "time": time.time(),
        "interval": 10.0,
        "host": "vm",
        "plugin": "load",
        "plugin_instance": "",
        "type": "load",
        "type_instance": "",
    }
    [fwd] = cleaner_chain().process([delivery(json.dumps([item]), key="collectd")])
    assert fwd.event["connector"] == "collectd" and fwd.key == "load/vm"
    chain = cleaner_chain()
    assert chain.process([delivery(json.dumps([{**item, "time": "x"}]))]) == []
    assert chain.sink.pending[0]["reasons"][0]["reason"].startswith("collectd: item 0")


def test_redelivered_refusals_get_the_same_dead_letter_id():
    one, two = cleaner_chain(), cleaner_chain()
    one.process([delivery("{")])
    two.process([delivery("{")])
    assert one.sink.pending[0]["_id"] == two.sink.pending[0]["_id"]
    three = cleaner_chain()
    three.process([delivery("{", message_id=None)])
    assert three.sink.pending[0]["_id"] != one.sink.pending[0]["_id"]


def test_fused_engines_pass_events_in_memory_and_the_last_forwards():
    chain = chain_of(
        [Cleaner("cleaner", {}, None), Split("split", {}, None), Upper("upper", {}, None)],
        [conf("cleaner", "split"), conf("split", "upper"), conf("upper", "store")],
    )
    forwards = chain.process([delivery(json.dumps(good(output="ok")))])
    assert [(f.engine, f.key, f.event["output"]) for f in forwards] == [
        ("store", "http/web1", "OK"),
        ("store", "copy/web1", "OK"),
    ]
    assert chain.stats["upper"].events == 2 and chain.stats["cleaner"].events == 1


def test_the_last_engine_without_next_ends_the_chain():
    assert cleaner_chain(next_="").process([delivery(json.dumps(good()))]) == []


def test_an_exception_in_work_dead_letters_that_event_only():
    chain = chain_of(
        [Cleaner("cleaner", {}, None), Boom("boom", {}, None)],
        [conf("cleaner", "boom"), conf("boom", "next")],
    )
    body = json.dumps([good(component="bad"), good(component="fine")])
    forwards = chain.process([delivery(body)])
    assert [f.event["component"] for f in forwards] == ["fine"]
    [letter] = chain.sink.pending
    assert letter["engine"] == "boom"
    assert letter["reasons"] == [{"field": "", "reason": "engine boom failed: RuntimeError: kaput"}]
    assert json.loads(letter["body"])["component"] == "bad"
    chain.discard()
    assert chain.sink.pending == []


def test_a_non_raw_first_engine_dead_letters_a_body_that_is_not_json():
    chain = chain_of([Upper("upper", {}, None)], [conf("upper", "x")])
    assert chain.process([delivery("nope")]) == []
    assert chain.sink.pending[0]["engine"] == "upper"


def test_an_engine_passing_on_a_non_event_is_dead_lettered():
    class Bad(Engine):
        def work(self, ev):
            return {"no": "identity"}

    chain = chain_of([Bad("bad", {}, None)], [conf("bad", "x")])
    assert chain.process([delivery(json.dumps(good()))]) == []
    assert "passed on a non-event" in chain.sink.pending[0]["reasons"][0]["reason"]


def test_backoff_doubles_up_to_30_seconds():
    assert [runner.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_perf_event_is_a_valid_check():
    stats = Stats(events=50, seconds=0.5, errors=2)
    perf = beats.perf_event("cleaner", stats, time.time(), 10.0, "host-a", 7)
    normalized, errors = event.normalize(perf, time.time())
    assert errors == []
    assert normalized["event_type"] == "check"
    assert (normalized["state"], normalized["output"]) == (0, "ok")
    assert normalized["entity_id"] == "engine-cleaner/host-a"
    values = {m["metric"]: m["value"] for m in perf["perf_data_array"]}
    assert values == {
        "events_per_second": 5.0,
        "mean_processing_ms": 10.0,
        "errors": 2,
        "queue_depth": 7,
    }


def test_the_engine_check_is_a_warning_or_critical_past_its_thresholds_saying_which():
    perf = engine.Thresholds(
        warn_ms_per_event=10, crit_ms_per_event=50, warn_queue=1000, crit_queue=5000
    )
    assert perf.assess("alerts", 2.5, 40) == (0, "ok")
    assert perf.assess("alerts", 12.34, 5400) == (
        2,
        "alerts: 12.3 ms per event (warning above 10), queue 5,400 (critical above 5,000)",
    )
    assert perf.assess("context", 51, None) == (2, "context: 51.0 ms per event (critical above 50)")
    assert perf.assess("cleaner", 0.042, 1001) == (
        1,
        "cleaner: 0.042 ms per event, queue 1,001 (warning above 1,000)",
    )
    assert engine.Thresholds().assess("cleaner", 10**6, 10**9) == (0, "ok")  # all off


def test_perf_thresholds_come_from_the_conf_and_are_checked_at_start(tmp_path, monkeypatch):
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    engines = tmp_path / "etc" / "engines"
    engines.mkdir(parents=True)
    path = engines / "alerts.conf"
    path.write_text("next = x\n")
    assert engine.load_conf("alerts").perf == engine.Thresholds(100, 1000, 10000, 100000)
    path.write_text("[perf]\nwarn_ms_per_event = 2.5\ncrit_queue = 0\n")
    assert engine.load_conf("alerts").perf == engine.Thresholds(2.5, 1000, 10000, 0)
    path.write_text("[perf]\nwarn_queue = many\n")
    with pytest.raises(config.ConfigError) as err:
        engine.load_conf("alerts")
    assert str(err.value) == f"{path}: perf.warn_queue = 'many': expected integer(min=0)"
    path.write_text("[perf]\nwarn_ms_per_event = 20\ncrit_ms_per_event = 5\n")
    with pytest.raises(config.ConfigError) as err:
        engine.load_conf("alerts")
    assert str(err.value) == (
        f"{path}: perf.crit_ms_per_event = 5.0: expected 0 (off) or at least "
        "perf.warn_ms_per_event (20.0)"
    )


def test_queue_names_and_worker_numbers():
    assert topology.queue_name("alerts", 1) == "Engine_alerts"
    assert topology.queue_name("alerts", 3, 2) == "Engine_alerts.2"
    with pytest.raises(ValueError):
        topology.queue_name("alerts", 3, 3)
    assert [q.routing_key for q in topology.engine_queues("alerts", 2)] == ["1", "1"]


def test_engine_options_are_checked_against_the_class_spec():
    spec = "threshold = integer(min=0)\nmode = option('a', 'b', default='a')"
    assert engine.check_options("e.conf", {"threshold": "3"}, spec) == {"threshold": 3, "mode": "a"}
    with pytest.raises(config.ConfigError) as err:
        engine.check_options("e.conf", {"threshold": "x", "other": "1"}, spec)
    assert str(err.value).startswith("e.conf: options.threshold = 'x': ")
    assert str(err.value).endswith("options.other: unknown key")


def test_the_chain_is_declared_once_and_a_command_line_orders_its_process(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    engines = tmp_path / "etc" / "engines"
    engines.mkdir(parents=True)
    declared = tmp_path / "etc" / "engines.conf"
    declared.write_text("chain = cleaner, event_filter, context, eventstore\n")
    (engines / "cleaner.conf").write_text("next = alerts\n")  # kept from an older version
    (engines / "event_filter.conf").write_text("")
    chain = build_chain(["cleaner", "event_filter"], None)
    assert chain.names == ["cleaner", "event_filter"] and chain.next == "context"
    assert (
        f"{engines / 'cleaner.conf'}: next = 'alerts' is not used: the chain is declared in "
        f"{declared}" in caplog.text
    )
    assert build_chain(["cleaner"], None).next == "event_filter"
    caplog.clear()
    chain = build_chain(["event_filter", "cleaner"], None)
    assert chain.names == ["event_filter", "cleaner"] and chain.next == "event_filter"
    assert (
        f"cleaner follows event_filter in this process; the chain of {declared} has "
        "'context' after it" in caplog.text
    )
    (engines / "store.conf").write_text("")
    with pytest.raises(config.ConfigError, match=r"no module canopsis\.engines\.store"):
        build_chain(["store"], None)
    (engines / "eventstore.conf").write_text("")
    assert build_chain(["eventstore"], None).next == ""
    declared.write_text("chain = cleaner, eventstore\n")
    with pytest.raises(config.ConfigError) as err:
        build_chain(["cleaner", "event_filter"], None)
    assert (
        str(err.value) == f"{declared}: chain = cleaner, eventstore: no event_filter (add it "
        "where its events come)"
    )
    declared.write_text("chain = cleaner, eventstore, cleaner\n")
    with pytest.raises(config.ConfigError, match="cleaner twice"):
        build_chain(["cleaner"], None)
    declared.write_text('chain = cleaner, " ", eventstore\n')
    with pytest.raises(config.ConfigError, match="an empty name"):
        build_chain(["cleaner"], None)
    declared.write_text("")
    with pytest.raises(config.ConfigError, match="chain: missing"):
        build_chain(["cleaner"], None)


def test_broker_definitions_hold_the_entry_engine_topology(tmp_path, monkeypatch):
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    (tmp_path / "etc" / "engines").mkdir(parents=True)
    (tmp_path / "etc" / "engines" / "cleaner.conf").write_text("numprocs = 2\n")
    cfg = {"vhost": "v", "user": "u", "password": "p", "exchange": "canopsis.events"}
    defs = launch.rabbitmq_definitions(cfg)
    assert {e["name"]: e["type"] for e in defs["exchanges"]} == {
        "canopsis.events": "topic",
        "canopsis.engine.cleaner": "x-consistent-hash",
    }
    assert [q["name"] for q in defs["queues"]] == ["Engine_cleaner.0", "Engine_cleaner.1"]
    assert defs["bindings"][0] == {
        "source": "canopsis.events",
        "destination": "canopsis.engine.cleaner",
        "destination_type": "exchange",
        "routing_key": "#",
        "vhost": "v",
        "arguments": {},
    }


def test_send_event_builds_from_options_fields_and_file(tmp_path):
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"connector": "c", "connector_name": "n", "output": "file"}))
    args = send_event.parse(
        [
            "--file",
            str(path),
            "--event-type",
            "check",
            "--component",
            "h",
            "--state",
            "1",
            "--field",
            "n=3",
            "--field",
            "s=text",
            "--output",
            "option",
        ]
    )
    raw = send_event.build(args)
    assert raw == {
        "connector": "c",
        "connector_name": "n",
        "output": "option",
        "event_type": "check",
        "component": "h",
        "state": 1,
        "n": 3,
        "s": "text",
        "source_type": "component",
    }
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        send_event.build(send_event.parse(["--component", "h", "--field", "novalue"]))


@pytest.mark.parametrize(
    ("given", "state"), [("OK", 0), ("warning", 1), ("Critical", 2), ("UNKNOWN", 3), ("2", 2)]
)
def test_send_event_takes_a_state_as_a_number_or_a_nagios_name(given, state):
    assert send_event.parse(["--state", given]).state == state


def test_send_event_names_a_state_it_cannot_read(capsys):
    with pytest.raises(SystemExit) as exit_:
        send_event.parse(["--state", "bogus"])
    assert exit_.value.code == 2
    assert "'bogus': expected 0 to 3 or a Nagios state name" in capsys.readouterr().err


def test_send_event_help_describes_every_option():
    actions = send_event.options()._actions
    assert len(actions) == 20  # --help and the 19 options
    assert [a.option_strings[-1] for a in actions if not a.help] == []


class Recorder(Engine):
    """Records what each batch brings (prepare) and the order events are worked."""

    def __init__(self, name, options, db):
        super().__init__(name, options, db)
        self.prepared: list[list[str]] = []
        self.worked: list[str] = []

    def prepare(self, events):
        self.prepared.append([e["entity_id"] for e in events])

    def work(self, ev):
        self.worked.append(f"{ev['entity_id']}:{ev['output']}")
        return ev


class Router(Engine):
    def work(self, ev):
        return engine.Routed(ev["output"], ev) if ev["output"] != "stay" else ev


def test_a_batch_is_prepared_once_per_engine_and_worked_in_message_order():
    rec = Recorder("rec", {}, None)
    chain = chain_of([Cleaner("cleaner", {}, None), rec], [conf("cleaner", "rec"), conf("rec")])
    bodies = [good(output="1"), [good(output="2"), good(component="web2", output="3")]]
    chain.process([delivery(json.dumps(b), message_id=f"m{i}") for i, b in enumerate(bodies)])
    assert rec.prepared == [["http/web1", "http/web1", "http/web2"]]
    assert rec.worked == ["http/web1:1", "http/web1:2", "http/web2:3"]


def test_cleaner_gives_each_event_an_id_repeated_on_redelivery():
    body = json.dumps([good(), good(component="web2")])
    ids = [f.event["event_id"] for f in cleaner_chain().process([delivery(body)])]
    again = [f.event["event_id"] for f in cleaner_chain().process([delivery(body)])]
    assert ids == again and len(set(ids)) == 2
    [single] = cleaner_chain().process([delivery(json.dumps(good(event_id="x")), message_id="m9")])
    assert single.event["event_id"] == "m9"


def test_route_skips_to_a_later_fused_engine_or_leaves_for_another_process():
    rec = Recorder("rec", {}, None)
    chain = chain_of(
        [Cleaner("cleaner", {}, None), Router("router", {}, None), Upper("upper", {}, None), rec],
        [
            conf("cleaner", "router"),
            conf("router", "upper"),
            conf("upper", "rec"),
            conf("rec", "out"),
        ],
    )
    body = [good(output="stay"), good(output="rec"), good(output="elsewhere")]
    forwards = chain.process([delivery(json.dumps(body))])
    assert [(f.engine, f.event["output"]) for f in forwards] == [
        ("out", "STAY"),
        ("out", "rec"),
        ("elsewhere", "elsewhere"),
    ]
    assert rec.worked == ["http/web1:STAY", "http/web1:rec"]


def test_route_to_an_engine_without_configuration_is_dead_lettered(tmp_path, monkeypatch):
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    chain = Chain(
        [Cleaner("cleaner", {}, None), Router("router", {}, None)],
        [conf("cleaner", "router"), conf("router")],
    )
    assert chain.process([delivery(json.dumps(good(output="nowhere")))]) == []
    [letter] = chain.sink.pending
    assert letter["engine"] == "router"
    assert letter["reasons"][0]["reason"].startswith("no engine 'nowhere':")


def test_the_entry_engine_fused_with_others_in_several_workers_is_refused():
    def confs(*names: str, workers: int) -> list[EngineConf]:
        return [
            EngineConf(name, "", 60.0, workers, 100, 100, {}, f"/etc/engines/{name}.conf")
            for name in names
        ]

    with pytest.raises(config.ConfigError) as refused:
        check_workers(confs("cleaner", "event_filter", "alerts", workers=2))
    message = str(refused.value)
    assert message.startswith("/etc/engines/cleaner.conf: numprocs = 2: cleaner fused with")
    assert "event_filter alerts" in message and "out of order" in message
    check_workers(confs("cleaner", workers=2))  # alone: stateless
    check_workers(confs("cleaner", "event_filter", "alerts", workers=1))
    check_workers(confs("event_filter", "alerts", workers=4))
