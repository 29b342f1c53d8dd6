"""A connector for the tests of the connectors' base: ``count`` check events, ``batch``
at a time, then nothing."""

from canopsis.connectors.base import Connector


class Counting(Connector):
    kind = "counting"
    spec = """
count = integer(min=0, default=0)
batch = integer(min=1, default=10)
"""

    def setup(self) -> None:
        self.sent = 0
        self.counters["batches"] = 0

    def step(self, now: float) -> float:
        size = min(self.conf["batch"], self.conf["count"] - self.sent)
        if size <= 0:
            return 3600.0
        batch = [
            self.event("check", "host-1", f"r{self.sent + i}", state=1, output=f"n{self.sent + i}")
            for i in range(size)
        ]
        self.sent += self.publish(batch)
        self.counters["batches"] += 1
        return 0.0
