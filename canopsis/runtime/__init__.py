"""Runtime: what moves events.

The engine contract, the chain, the runner, the broker, the database
connection, leases, the engines' health and dead letters.
"""
