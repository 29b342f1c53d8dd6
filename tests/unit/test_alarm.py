"""The alarm state machine, driven through events and beats with a fake clock."""

import copy
import hashlib
import json

import pytest

from canopsis.domain.alarm import (
    CANCELLED,
    FLAPPING,
    OFF,
    ONGOING,
    STEALTHY,
    AlarmConfig,
    Outcome,
    apply_event,
    is_acked,
    is_cancelled,
    is_problem,
    is_snoozed,
    on_beat,
)
from canopsis.domain.eventkeys import KEY_BYTES

T0 = 1_700_000_000.0
CFG = AlarmConfig()


def make_event(event_type: str = "check", **fields) -> dict:
    event = {
        "connector": "nagios",
        "connector_name": "nagios1",
        "event_type": event_type,
        "source_type": "resource",
        "component": "web1",
        "resource": "http",
        "entity_id": "http/web1",
        "timestamp": T0,
        "output": "",
    }
    return event | fields


class Entity:
    """One entity's alarm as the engine keeps it, with a clock in seconds after T0."""

    def __init__(self, cfg: AlarmConfig = CFG) -> None:
        self.cfg = cfg
        self.alarm: dict | None = None
        self.sent = 0

    def send(self, at: float, event_type: str = "check", key: str | None = None, **fields):
        self.sent += 1
        event = make_event(event_type, **fields)
        outcome = apply_event(self.alarm, event, T0 + at, self.cfg, key or f"msg-{self.sent}")
        return self._keep(outcome)

    def beat(self, at: float) -> Outcome:
        return self._keep(on_beat(self.alarm, T0 + at, self.cfg))

    def _keep(self, outcome: Outcome) -> Outcome:
        if outcome.changed:
            self.alarm = outcome.alarm
        return outcome

    def checks(self, *timed_states: tuple[float, int]) -> None:
        for at, state in timed_states:
            self.send(at, state=state)

    @property
    def state(self) -> int:
        return self.alarm["state"]["val"]

    @property
    def status(self) -> int:
        return self.alarm["status"]["val"]

    def history(self) -> list[tuple[str, object]]:
        return [(step["_t"], step["val"]) for step in self.alarm["steps"]]


def kinds(outcome: Outcome) -> list[str]:
    return [step["_t"] for step in outcome.new_steps]


# Opening, state changes, check fields.


def test_problem_check_opens_an_ongoing_alarm():
    entity = Entity()
    outcome = entity.send(5, state=2, output="HTTP 500", long_output="trace", tags=["prod"])

    alarm = outcome.alarm
    assert outcome.created and outcome.changed and outcome.ignored_reason is None
    assert alarm["_id"] == "http/web1:msg-1"
    assert (alarm["entity_id"], alarm["component"], alarm["resource"]) == (
        "http/web1",
        "web1",
        "http",
    )
    assert (alarm["connector"], alarm["connector_name"]) == ("nagios", "nagios1")
    assert alarm["creation_date"] == alarm["last_update_date"] == T0 + 5
    assert alarm["last_event_date"] == T0
    assert alarm["resolved"] is None
    assert (entity.state, entity.status) == (2, ONGOING)
    assert entity.history() == [("stateinc", 2), ("statusinc", ONGOING)]
    assert outcome.new_steps == alarm["steps"]
    assert alarm["steps"][0] == {
        "_t": "stateinc",
        "t": T0 + 5,
        "a": "nagios.nagios1",
        "m": "HTTP 500",
        "val": 2,
    }
    assert (alarm["output"], alarm["long_output"], alarm["events_count"]) == (
        "HTTP 500",
        "trace",
        1,
    )
    assert alarm["tags"] == ["prod"]
    assert alarm["ack"] is alarm["snooze"] is alarm["canceled"] is alarm["ticket"] is None
    assert is_problem(alarm)


def test_component_alarm_has_no_resource():
    event = make_event(state=1, source_type="component", entity_id="web1")
    del event["resource"]
    alarm = apply_event(None, event, T0, CFG, "k").alarm
    assert (alarm["_id"], alarm["resource"]) == ("web1:k", None)


def test_ok_check_without_alarm_is_ignored():
    outcome = apply_event(None, make_event(state=0), T0, CFG, "k")
    assert outcome == Outcome(None, ignored_reason="no_open_alarm")


def test_state_increases_and_decreases_with_steps():
    entity = Entity()
    entity.checks((0, 1), (60, 3))
    assert entity.state == 3
    outcome = entity.send(120, state=2, output="better", author="probe")

    assert entity.history() == [
        ("stateinc", 1),
        ("statusinc", ONGOING),
        ("stateinc", 3),
        ("statedec", 2),
    ]
    assert outcome.new_steps == [
        {"_t": "statedec", "t": T0 + 120, "a": "probe", "m": "better", "val": 2}
    ]
    assert entity.alarm["state"] == outcome.new_steps[0]
    assert entity.status == ONGOING


def test_same_state_check_updates_fields_without_a_step():
    entity = Entity()
    entity.send(0, state=2, output="first", tags=["prod"])
    outcome = entity.send(
        30, state=2, output="second", long_output="more", timestamp=T0 + 29, tags=["db", "prod"]
    )

    alarm = entity.alarm
    assert outcome.changed and outcome.new_steps == []
    assert (alarm["output"], alarm["long_output"]) == ("second", "more")
    assert (alarm["last_event_date"], alarm["last_update_date"]) == (T0 + 29, T0 + 30)
    assert alarm["events_count"] == 2
    assert alarm["tags"] == ["prod", "db"]


def test_unsupported_event_type_is_ignored():
    entity = Entity()
    entity.send(0, state=2)
    outcome = entity.send(1, "perf")
    assert (outcome.changed, outcome.ignored_reason) == (False, "unsupported_event_type")
    assert outcome.alarm is entity.alarm


# Stealthy.


@pytest.mark.parametrize(("ok_at", "status"), [(299, STEALTHY), (300, OFF)])
def test_stealthy_when_ok_comes_back_within_stealthy_time(ok_at, status):
    entity = Entity()
    entity.send(0, state=2)
    outcome = entity.send(ok_at, state=0)

    assert entity.state == 0 and entity.status == status
    expected = ("statusinc", STEALTHY) if status == STEALTHY else ("statusdec", OFF)
    assert (outcome.new_steps[-1]["_t"], outcome.new_steps[-1]["val"]) == expected
    assert not is_problem(entity.alarm)


def test_stealthy_counts_from_the_last_problem_state_change():
    entity = Entity()
    entity.checks((0, 1), (1000, 3), (1200, 0))
    assert entity.status == STEALTHY


def test_stealthy_back_to_ongoing_when_the_problem_returns():
    entity = Entity()
    entity.checks((0, 2), (100, 0))
    outcome = entity.send(150, state=3)
    assert (entity.state, entity.status) == (3, ONGOING)
    assert kinds(outcome) == ["stateinc", "statusdec"]


def test_off_alarm_back_to_ongoing_when_the_problem_returns():
    entity = Entity()
    entity.checks((0, 2), (400, 0))
    outcome = entity.send(500, state=1)
    assert (entity.state, entity.status) == (1, ONGOING)
    assert kinds(outcome) == ["stateinc", "statusinc"] and not outcome.created


def test_stealthy_ends_on_beat_once_ok_for_stealthy_time():
    entity = Entity()
    entity.checks((0, 2), (100, 0))

    assert entity.beat(399) == Outcome(entity.alarm)
    outcome = entity.beat(400)
    assert outcome.changed and entity.status == OFF
    assert outcome.new_steps == [
        {"_t": "statusdec", "t": T0 + 400, "a": "canopsis", "m": "periodic check", "val": OFF}
    ]
    assert entity.alarm["last_update_date"] == T0 + 400
    assert entity.alarm["resolved"] is None


# Resolution and reopening.


@pytest.mark.parametrize(("beat_at", "resolved"), [(3999, False), (4000, True)])
def test_ok_alarm_resolves_after_flapping_interval(beat_at, resolved):
    entity = Entity()
    entity.checks((0, 2), (400, 0))
    assert entity.status == OFF

    outcome = entity.beat(beat_at)
    assert entity.alarm["resolved"] == (T0 + beat_at if resolved else None)
    assert outcome.changed is resolved and outcome.new_steps == []


def test_stealthy_alarm_resolves_after_flapping_interval():
    entity = Entity()
    entity.checks((0, 2), (100, 0))
    entity.beat(3699)
    assert entity.status == OFF and entity.alarm["resolved"] is None
    entity.beat(3700)
    assert entity.alarm["resolved"] == T0 + 3700


def test_problem_alarm_never_resolves_on_beat():
    entity = Entity()
    entity.send(0, state=1)
    assert entity.beat(100_000) == Outcome(entity.alarm)


def test_beat_on_resolved_alarm_does_nothing():
    entity = Entity()
    entity.checks((0, 2), (400, 0))
    entity.beat(4000)
    assert entity.beat(5000).ignored_reason == "resolved"


def test_problem_after_resolution_opens_a_new_alarm():
    entity = Entity()
    entity.checks((0, 2), (400, 0))
    entity.beat(4000)
    first = entity.alarm

    assert entity.send(4100, state=0).ignored_reason == "no_open_alarm"
    assert entity.send(4200, "ack").ignored_reason == "no_open_alarm"
    outcome = entity.send(4300, state=1)
    assert outcome.created and outcome.alarm["_id"] != first["_id"]
    assert outcome.alarm["creation_date"] == T0 + 4300 and outcome.alarm["resolved"] is None
    assert entity.history() == [("stateinc", 1), ("statusinc", ONGOING)]
    assert first["resolved"] == T0 + 4000


# Flapping.


def flap(entity: Entity, changes: int, every: float = 60) -> None:
    """Alternate 2 and 0, starting with 2 (which opens the alarm): ``changes`` state changes."""
    entity.checks(*((i * every, 2 if i % 2 == 0 else 0) for i in range(changes)))


def test_flapping_after_flapping_freq_changes_within_interval():
    entity = Entity()
    flap(entity, 9)  # changes at 0..480, ends in state 2
    assert entity.status == ONGOING
    entity.send(540, state=0)
    assert (entity.state, entity.status) == (0, FLAPPING)
    assert entity.history()[-2:] == [("statedec", 0), ("statusinc", FLAPPING)]

    outcome = entity.send(600, state=2)
    assert entity.status == FLAPPING and kinds(outcome) == ["stateinc"]


def test_flapping_from_stealthy():
    entity = Entity(AlarmConfig(flapping_freq=3))
    entity.checks((0, 2), (60, 0))
    assert entity.status == STEALTHY
    entity.send(120, state=1)
    assert entity.history()[-2:] == [("stateinc", 1), ("statusinc", FLAPPING)]


def test_no_flapping_when_changes_are_spread_over_more_than_the_interval():
    entity = Entity()
    flap(entity, 11, every=400)  # 9 changes within the last hour, ends in state 2
    assert entity.status == ONGOING


def test_flapping_back_to_ongoing_on_beat():
    entity = Entity()
    flap(entity, 11)  # changes at 0..600, ends in state 2
    assert entity.status == FLAPPING

    assert entity.beat(3659) == Outcome(entity.alarm)  # the change at 60 still counts
    outcome = entity.beat(3660)
    assert entity.status == ONGOING and kinds(outcome) == ["statusdec"]


def test_flapping_back_to_off_then_resolved():
    entity = Entity()
    flap(entity, 10)  # changes at 0..540, ends in state 0
    assert (entity.state, entity.status) == (0, FLAPPING)

    entity.beat(3599)
    assert entity.status == FLAPPING
    entity.beat(3600)
    assert entity.status == OFF and entity.alarm["resolved"] is None
    entity.beat(4139)
    assert entity.alarm["resolved"] is None
    entity.beat(4140)
    assert entity.alarm["resolved"] == T0 + 4140


def test_flapping_window_is_bounded():
    entity = Entity()
    flap(entity, 30, every=10)
    assert len(entity.alarm["state_changes"]) == CFG.flapping_freq


# Cancel.


def test_cancel_and_uncancel():
    entity = Entity()
    entity.send(0, state=2)
    outcome = entity.send(10, "cancel", author="alice", output="false positive")

    alarm = entity.alarm
    assert entity.status == CANCELLED and is_cancelled(alarm) and not is_problem(alarm)
    assert kinds(outcome) == ["cancel", "statusinc"]
    assert alarm["canceled"] == {
        "_t": "cancel",
        "t": T0 + 10,
        "a": "alice",
        "m": "false positive",
        "val": T0 + 3610,
    }
    assert entity.send(20, "cancel").ignored_reason == "already_cancelled"

    entity.send(30, state=3)
    assert (entity.state, entity.status) == (3, CANCELLED)

    outcome = entity.send(40, "uncancel", author="bob")
    assert entity.status == ONGOING and not is_cancelled(entity.alarm)
    assert kinds(outcome) == ["uncancel", "statusdec"]
    assert entity.send(50, "uncancel").ignored_reason == "not_cancelled"


def test_uncancel_recomputes_an_ok_status():
    entity = Entity()
    entity.checks((0, 2), (400, 0))
    entity.send(500, "cancel")
    entity.send(600, "uncancel")
    assert entity.status == OFF


@pytest.mark.parametrize(("beat_at", "resolved"), [(3609, False), (3610, True)])
def test_cancelled_alarm_resolves_after_cancel_autosolve_delay(beat_at, resolved):
    entity = Entity()
    entity.send(0, state=2)
    entity.send(10, "cancel")
    entity.beat(beat_at)
    assert entity.alarm["resolved"] == (T0 + beat_at if resolved else None)
    assert entity.status == CANCELLED


# Operator actions.


def test_ack_and_ackremove():
    entity = Entity()
    entity.send(0, state=2)
    outcome = entity.send(10, "ack", author="alice", output="on it")

    assert is_acked(entity.alarm)
    assert entity.alarm["ack"] == {
        "_t": "ack",
        "t": T0 + 10,
        "a": "alice",
        "m": "on it",
        "val": None,
    }
    assert outcome.new_steps == [entity.alarm["ack"]]
    assert entity.alarm["events_count"] == 1 and entity.alarm["last_update_date"] == T0 + 10

    outcome = entity.send(20, "ackremove", author="bob")
    assert not is_acked(entity.alarm) and kinds(outcome) == ["ackremove"]
    assert entity.send(30, "ackremove").ignored_reason == "not_acked"


def test_snooze_until_it_expires_on_beat():
    entity = Entity()
    entity.send(0, state=2)
    outcome = entity.send(100, "snooze", duration=600, author="alice")

    assert kinds(outcome) == ["snooze"] and entity.alarm["snooze"]["val"] == T0 + 700
    assert is_snoozed(entity.alarm, T0 + 699)
    assert not is_snoozed(entity.alarm, T0 + 700)
    assert entity.beat(699) == Outcome(entity.alarm)
    outcome = entity.beat(700)
    assert outcome.changed and outcome.new_steps == []
    assert entity.alarm["snooze"] is None and not is_snoozed(entity.alarm, T0 + 700)


@pytest.mark.parametrize("duration", [None, 0, -5, "600", True])
def test_snooze_needs_a_positive_duration(duration):
    entity = Entity()
    entity.send(0, state=2)
    outcome = entity.send(1, "snooze", duration=duration)
    assert (outcome.changed, outcome.ignored_reason) == (False, "invalid_duration")


def test_tickets():
    entity = Entity()
    entity.send(0, state=2)
    entity.send(10, "declareticket", author="alice")
    assert entity.alarm["ticket"]["_t"] == "declareticket" and entity.alarm["ticket"]["val"] is None

    entity.send(20, "declareticket", ticket="INC-1")
    assert entity.alarm["ticket"]["val"] == "INC-1"
    entity.send(30, "assocticket", ticket="INC-2", author="bob")
    assert (entity.alarm["ticket"]["_t"], entity.alarm["ticket"]["val"]) == ("assocticket", "INC-2")
    assert entity.history()[-3:] == [
        ("declareticket", None),
        ("declareticket", "INC-1"),
        ("assocticket", "INC-2"),
    ]
    assert entity.send(40, "assocticket").ignored_reason == "missing_ticket"


def test_comment_adds_a_step_only():
    entity = Entity()
    entity.send(0, state=2, output="HTTP 500")
    before = entity.alarm
    outcome = entity.send(10, "comment", author="alice", output="looking at the logs")

    assert outcome.new_steps == [
        {"_t": "comment", "t": T0 + 10, "a": "alice", "m": "looking at the logs", "val": None}
    ]
    after = entity.alarm
    assert after["output"] == "HTTP 500" and after["events_count"] == 1
    assert {k for k in after if after[k] != before[k]} == {
        "steps",
        "last_update_date",
        "event_keys",
    }


@pytest.mark.parametrize(
    "action", ["ack", "ackremove", "snooze", "cancel", "comment", "changestate"]
)
def test_action_without_open_alarm_does_nothing(action):
    outcome = apply_event(None, make_event(action, duration=60, state=1), T0, CFG, "k")
    assert outcome == Outcome(None, ignored_reason="no_open_alarm")


# Changestate.


def test_changestate_locks_the_state_until_resolution():
    entity = Entity()
    entity.send(0, state=3)
    outcome = entity.send(10, "changestate", state=1, author="alice", output="known issue")

    assert kinds(outcome) == ["changestate"]
    assert entity.alarm["state"] == {
        "_t": "changestate",
        "t": T0 + 10,
        "a": "alice",
        "m": "known issue",
        "val": 1,
    }
    for at, state in [(20, 3), (30, 0), (40, 2)]:
        outcome = entity.send(at, state=state, output=f"check {state}")
        assert outcome.new_steps == [] and entity.state == 1
    assert entity.alarm["output"] == "check 2" and entity.alarm["events_count"] == 4
    assert entity.status == ONGOING
    assert entity.beat(100_000) == Outcome(entity.alarm)


def test_changestate_to_ok_resolves_then_the_lock_is_gone():
    entity = Entity()
    entity.send(0, state=3)
    entity.send(1000, "changestate", state=0)
    assert (entity.state, entity.status) == (0, OFF)
    entity.send(1100, state=3)
    assert entity.state == 0

    entity.beat(4600)
    assert entity.alarm["resolved"] == T0 + 4600
    entity.send(4700, state=2)
    entity.send(4800, state=3)
    assert entity.history() == [("stateinc", 2), ("statusinc", ONGOING), ("stateinc", 3)]


def test_changestate_does_not_count_for_flapping():
    entity = Entity(AlarmConfig(flapping_freq=3))
    entity.send(0, state=2)
    for at, state in [(10, 1), (20, 3), (30, 1)]:
        entity.send(at, "changestate", state=state)
    assert entity.status == ONGOING


@pytest.mark.parametrize("state", [None, 4, -1, "2", True])
def test_changestate_needs_a_valid_state(state):
    entity = Entity()
    entity.send(0, state=2)
    assert entity.send(1, "changestate", state=state).ignored_reason == "invalid_state"


# Hard limit.


def test_hard_limit_counts_state_steps_and_keeps_operator_steps():
    entity = Entity(AlarmConfig(hard_limit=5, flapping_freq=1000))
    entity.checks((0, 2), (10, 0), (20, 2))
    assert entity.history() == [
        ("stateinc", 2),
        ("statusinc", ONGOING),
        ("statedec", 0),
        ("statusinc", STEALTHY),
        ("stateinc", 2),
        ("hardlimit", 5),
    ]
    assert entity.alarm["dropped_steps"] == 1

    entity.checks((30, 0), (40, 3))
    outcome = entity.send(50, "ack")
    entity.send(60, "comment")
    assert kinds(outcome) == ["ack"]
    assert entity.history()[5:] == [("hardlimit", 5), ("ack", None), ("comment", None)]
    assert entity.alarm["dropped_steps"] == 5
    assert (entity.state, entity.status) == (3, ONGOING)
    assert entity.alarm["state"]["t"] == T0 + 40


# Idempotency and purity.


def test_redelivered_events_change_nothing():
    entity = Entity()
    entity.send(0, state=2, key="a")
    entity.send(10, state=3, key="b")
    entity.send(20, "ack", key="c")
    applied = entity.alarm

    for key, event_type in [("a", "check"), ("b", "check"), ("c", "ack")]:
        outcome = entity.send(30, event_type, key=key, state=3)
        assert outcome == Outcome(applied, ignored_reason="already_applied")
    assert entity.alarm["events_count"] == 2 and len(entity.alarm["steps"]) == 4


def test_remembered_event_keys_are_bounded():
    entity = Entity(AlarmConfig(keys_kept=2))
    entity.checks((0, 2), (10, 3), (20, 1))
    assert len(entity.alarm["event_keys"]) == 2 * KEY_BYTES
    again = entity.send(30, key="msg-3", state=2)
    assert again.ignored_reason == "already_applied"
    forgotten = entity.send(40, key="msg-1", state=2)
    assert forgotten.changed and entity.state == 2


def test_keys_kept_as_text_before_are_still_known():
    entity = Entity()
    entity.checks((0, 2), (10, 3))
    entity.alarm = {**entity.alarm, "event_keys": ["msg-1", "msg-2"]}
    assert entity.send(20, key="msg-2", state=1).ignored_reason == "already_applied"
    assert entity.send(30, key="msg-9", state=1).changed
    assert entity.send(40, key="msg-1", state=2).ignored_reason == "already_applied"


def test_a_key_found_across_two_digests_is_not_taken_for_one_applied():
    entity = Entity()
    entity.checks((0, 2))
    digest = hashlib.blake2b(b"msg-9", digest_size=KEY_BYTES).digest()
    entity.alarm = {**entity.alarm, "event_keys": b"\0" * 4 + digest + b"\0" * 4}
    assert entity.send(10, key="msg-9", state=3).changed


def test_inputs_are_never_mutated_and_alarm_is_json():
    entity = Entity()
    entity.send(0, state=2, tags=["a"])
    snapshots = []
    for step in [
        lambda: entity.send(10, state=0, tags=["b"]),
        lambda: entity.send(20, "snooze", duration=30),
        lambda: entity.send(30, "cancel"),
        lambda: entity.beat(400),
        lambda: entity.beat(10_000),
    ]:
        before = entity.alarm
        snapshots.append((before, copy.deepcopy(before)))
        assert step().alarm is not before
    assert all(alarm == frozen for alarm, frozen in snapshots)
    assert entity.alarm["resolved"] == T0 + 10_000
    alarm = {**entity.alarm, "event_keys": None}  # a binary, never answered
    assert json.loads(json.dumps(alarm)) == alarm


# Planned behaviours.

MAINTENANCE = {
    "id": "pb1",
    "name": "backup",
    "type": "maintenance",
    "reason": "weekly backup",
    "author": "root",
}


def test_alarm_opened_in_maintenance_is_flagged_and_not_a_problem():
    entity = Entity()
    outcome = entity.send(5, state=2, pbehavior=MAINTENANCE)
    assert outcome.created
    assert entity.alarm["pbehavior"] == {**MAINTENANCE, "since": T0 + 5}
    assert entity.history() == [("stateinc", 2), ("pbhenter", "pb1"), ("statusinc", ONGOING)]
    enter = entity.alarm["steps"][1]
    assert (enter["a"], enter["m"]) == ("root", "entered maintenance 'backup': weekly backup")
    assert entity.state == 2 and not is_problem(entity.alarm)


def test_alarm_follows_the_pbehavior_of_later_events():
    entity = Entity()
    entity.send(0, state=2, pbehavior=None)
    assert entity.alarm["pbehavior"] is None and is_problem(entity.alarm)
    entity.send(10, state=2, pbehavior=MAINTENANCE)
    entity.send(20, state=2, pbehavior=MAINTENANCE)
    entity.send(30, state=3, pbehavior=None)
    assert entity.history() == [
        ("stateinc", 2),
        ("statusinc", ONGOING),
        ("pbhenter", "pb1"),
        ("stateinc", 3),
        ("pbhleave", "pb1"),
    ]
    assert entity.alarm["pbehavior"] is None and is_problem(entity.alarm)


def test_moving_from_one_pbehavior_to_another_leaves_then_enters():
    entity = Entity()
    entity.send(0, state=1, pbehavior=MAINTENANCE)
    pause = {**MAINTENANCE, "id": "pb2", "type": "pause", "name": "night"}
    outcome = entity.send(10, "pbehavior", pbehavior=pause)
    assert kinds(outcome) == ["pbhleave", "pbhenter"]
    assert entity.alarm["pbehavior"]["id"] == "pb2"
    assert entity.alarm["pbehavior"]["since"] == T0 + 10


def test_pbehavior_event_without_change_is_ignored():
    entity = Entity()
    entity.send(0, state=1, pbehavior=MAINTENANCE)
    assert entity.send(5, "pbehavior", pbehavior=MAINTENANCE).ignored_reason == (
        "pbehavior_unchanged"
    )
    assert entity.send(5, "pbehavior").ignored_reason == "pbehavior_unchanged"
    assert Entity().send(5, "pbehavior", pbehavior=None).ignored_reason == "no_open_alarm"


def test_events_without_a_pbehavior_view_leave_the_flag_alone():
    entity = Entity()
    entity.send(0, state=1, pbehavior=MAINTENANCE)
    entity.send(5, state=2)
    entity.send(6, "ack", author="bob")
    assert entity.alarm["pbehavior"]["id"] == "pb1"
