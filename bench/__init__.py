"""canopsis benchmarks: throughput, latency, query speed and footprint (``python -m bench``).

Not tests: nothing here passes or fails on time. A run starts its own
RabbitMQ and embedded MongoDB on free ports in a temporary prefix, drives the
engines and the REST API as real processes, and writes its numbers to
``bench/results/<date>-<machine>.json`` with a short table on stdout.
"""
