"""Runtime: what moves events.

The engine contract (``engine``), the chain of one process (``chain``), the
process that feeds it (``runner``) and its beats (``beats``); the broker
(``amqp`` to connect and publish, ``topology`` for the exchanges and queues),
the database connection, leases, the engines' health and dead letters.
"""
