"""The options of the engines: the code holds each default, the shipped confs show it."""

from pathlib import Path

import pytest
from configobj import ConfigObj

from canopsis.domain import alarmconfig
from canopsis.domain.alarmconfig import AlarmConfig
from canopsis.engines.alerts import Alerts
from canopsis.ops.config import ConfigError
from canopsis.runtime.engine import check_options, engine_class

ETC_ENGINES = Path(__file__).resolve().parents[2] / "etc" / "engines"
CONFS = sorted(ETC_ENGINES.glob("*.conf"))


@pytest.mark.parametrize("conf", CONFS, ids=[c.stem for c in CONFS])
def test_a_shipped_engine_conf_lists_each_option_with_the_code_default(conf):
    spec = engine_class(conf.stem).options_spec
    defaults = check_options(str(conf), {}, spec)
    shipped = ConfigObj(str(conf), interpolation=False)["options"]
    assert check_options(str(conf), dict(shipped), spec) == defaults
    assert sorted(shipped) == sorted(defaults)


def test_the_alerts_engine_checks_the_alarm_options_of_the_domain():
    defaults = check_options("alerts.conf", {}, Alerts.options_spec)
    assert AlarmConfig.from_options(defaults) == AlarmConfig()
    assert alarmconfig.defaults().items() <= defaults.items()
    assert defaults["resolved_retention_days"] == 365


def test_a_bad_alarm_option_names_the_key_and_its_bound():
    with pytest.raises(ConfigError, match=r"^alerts.conf: options.hard_limit = '5': .*too small"):
        check_options("alerts.conf", {"hard_limit": "5"}, Alerts.options_spec)


def test_the_engine_passes_its_options_to_the_state_machine():
    alerts = Alerts(
        "alerts", {**check_options("a", {}, Alerts.options_spec), "hard_limit": 20}, None
    )
    assert alerts.cfg == AlarmConfig(hard_limit=20)
