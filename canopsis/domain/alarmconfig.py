"""The options of the alarm state machine: the one place of their defaults and bounds.

They are the ``[options]`` of ``etc/engines/alerts.conf``: the alerts engine
checks that section against :func:`options_spec`, made from
:class:`AlarmConfig`, so a default or a bound is written here only. The shipped
``alerts.conf`` lists each option with its default, for the administrator to
see and change; a unit test fails when it says another value than this module.
"""

from dataclasses import dataclass, field, fields
from typing import Any

from canopsis.domain.alarmsteps import MAX_STEPS


def _option(default: float, check: str, **bounds: float) -> Any:
    """A field that is an option: its default and its configobj check (with the bounds)."""
    args = ", ".join(f"{name}={value}" for name, value in {**bounds, "default": default}.items())
    return field(default=default, metadata={"spec": f"{check}({args})"})


@dataclass(frozen=True)
class AlarmConfig:
    """What the state machine is told; see :mod:`canopsis.domain.alarm` for each rule."""

    #: an alarm back to OK within this many seconds of its problem is stealthy
    stealthy_time: float = _option(300, "float", min=0)
    #: that many state changes within ``flapping_interval`` make an alarm flapping
    flapping_freq: int = _option(10, "integer", min=2)
    #: seconds of the flapping window; an alarm OK for this long resolves
    flapping_interval: float = _option(3600, "float", min=1)
    #: seconds from a cancel to the alarm's resolution
    cancel_autosolve_delay: float = _option(3600, "float", min=0)
    #: steps kept before state and status steps are only counted
    hard_limit: int = _option(100, "integer", min=10, max=MAX_STEPS)
    #: not an option: the keys of the events last applied that an alarm keeps, for
    #: events delivered again (the alerts engine keeps these and every key of its batch)
    keys_kept: int = 100

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "AlarmConfig":
        """The config of checked ``[options]`` (other keys, the engine's own, are left)."""
        return cls(**{name: options[name] for name in defaults() if name in options})


def defaults() -> dict[str, Any]:
    """Each option and its default."""
    return {f.name: f.default for f in fields(AlarmConfig) if "spec" in f.metadata}


def options_spec() -> str:
    """The configobj spec lines of the options, defaults and bounds included."""
    return "".join(
        f"{f.name} = {f.metadata['spec']}\n" for f in fields(AlarmConfig) if "spec" in f.metadata
    )
