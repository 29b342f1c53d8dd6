"""``service``'s exit status for a name that matches no program."""

import pytest

from canopsis.cli import service
from canopsis.ops import supervisor
from canopsis.ops.supervisor import Process

KNOWN = [Process("webserver", "webserver", "RUNNING", 7, 0, 0, "", "/log/webserver.log")]


@pytest.fixture
def supervised(monkeypatch):
    """supervisord running with one program, ``webserver``."""
    monkeypatch.setattr(supervisor, "ensure_running", lambda: False)
    monkeypatch.setattr(supervisor, "processes", lambda: KNOWN)


def test_status_of_an_unknown_service_exits_4_as_lsb_says(supervised, capsys):
    assert service.main(["nosuch", "status"]) == 4
    assert capsys.readouterr().err == "service: unknown service 'nosuch'; known: webserver\n"


def test_start_of_an_unknown_service_exits_1(supervised, capsys):
    assert service.main(["nosuch", "start"]) == 1
    assert capsys.readouterr().err == "service: unknown service 'nosuch'; known: webserver\n"
