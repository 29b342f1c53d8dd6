"""``canopsis-engine NAME [NAME ...] [--worker N]``: run a chain of engines in this process.

The names are engines of the chain (``chain`` in ``etc/engines.conf``, the
one place that orders them), fused in this process in the order given; what
the last one passes on goes to the engine after it in the chain. The process
consumes the first engine's queue. ``--worker N`` (supervisord's
``process_num``) picks the queue ``Engine_<first>.<N>`` when the first engine
has ``numprocs`` > 1. A bad configuration stops it at start with one line and
exit status 2; SIGTERM stops it cleanly with exit status 0.
"""

import logging
import sys

from canopsis.cli.common import Parser
from canopsis.ops import config
from canopsis.runtime import runner

log = logging.getLogger("canopsis.engine")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="canopsis-engine", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", metavar="NAME", help="engines, in chain order")
    parser.add_argument("--worker", type=int, default=None, help="worker number (0-based)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return runner.serve(args.names, args.worker)
    except config.ConfigError as exc:
        log.error("%s", exc)
        return 2
