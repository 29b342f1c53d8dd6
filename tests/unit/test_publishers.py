"""What publishes events imports the broker's modules only, never the engine runtime."""

import json
import subprocess
import sys

import pytest

#: the engine runtime: what runs engines, not what publishes to them
RUNTIME = ("canopsis.runtime.engine", "canopsis.runtime.chain", "canopsis.runtime.runner")
#: the web application with every module of its routes (it imports them when it starts)
WEB_APP = (
    "import canopsis.webserver.app as app; "
    "[importlib.import_module(f'canopsis.webserver.resources.{name}') "
    "for name in (*app.ALWAYS, *app.WEBSERVICES.values())]"
)


@pytest.mark.parametrize(
    "publisher",
    [
        "import canopsis.cli.send_event",
        "import canopsis.cli.canopsis",
        "import canopsis.webserver.api",
        "import canopsis.webserver.ingest",
        WEB_APP,
    ],
)
def test_a_publisher_does_not_import_the_engine_runtime(publisher):
    probe = (
        f"import json, sys, importlib; {publisher}; "
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('canopsis.'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "canopsis.runtime.topology" in loaded
    assert [name for name in loaded if name in RUNTIME or name.startswith("canopsis.engines")] == []
