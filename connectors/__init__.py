"""Data sources that publish events to canopsis, each a supervisord program.

What they share is in :mod:`canopsis.connectors.base` (configuration, publishing
with the broker's confirms, their own heartbeat, logging, SIGTERM). A connector
imports only the core (``canopsis.domain``, ``canopsis.runtime``,
``canopsis.ops``), never the engines or the webserver.

To add one, ``<kind>`` (e.g. ``logtail``):

1. ``connectors/<kind>.py`` with one subclass of
   :class:`~canopsis.connectors.base.Connector`: ``kind = "<kind>"`` (the
   ``connector`` of its events), ``spec`` (configobj spec lines of its own
   settings) and ``step(now)``, which builds events with ``self.event(...)``,
   publishes them with ``self.publish(events)`` (it returns once the broker
   has them) and returns the seconds to wait before the next step. ``setup``
   and ``close`` are there when it needs them; ``self.state_dir`` keeps what
   must survive a restart, ``self.counters`` what its heartbeat reports.
2. ``etc/connectors/<name>.conf``, its settings (``<name>`` is the instance:
   the kind again, or one name per instance when several run).
3. Its supervisord program, from the template in
   ``etc/supervisord.d/connectors.conf``, added to a section of
   ``etc/hypcontrol.conf``.
4. Tests: unit tests of ``step`` (it takes ``now``), and an integration test
   against the real broker like ``tests/integration/test_connector.py``.
"""
