"""The keys of the events last applied to an alarm, kept on it for idempotency.

An event delivered again (a batch worked again after a failure, an engine before
redoing its batch) has the same key and must change nothing. An alarm keeps the keys
of its last events as :data:`KEY_BYTES` bytes of their BLAKE2b digests side by side in
one binary: 100 keys take 800 bytes instead of 4.5 kB of text, and they are rewritten
with the alarm on every event about it. Taking one event for another needs two keys
of one alarm alike in 64 bits.
"""

import hashlib

KEY_BYTES = 8


def known(keys: bytes | list[str], key: str) -> bool:
    """Whether ``key`` is one of ``keys`` (as :func:`added` keeps them)."""
    keys, digest = _binary(keys), _digest(key)
    at = keys.find(digest)
    while at > 0 and at % KEY_BYTES:  # across two digests
        at = keys.find(digest, at + 1)
    return at >= 0


def added(keys: bytes | list[str], key: str, kept: int) -> bytes:
    """``keys`` and ``key``, the last ``kept`` of them."""
    return last(_binary(keys) + _digest(key), kept)


def last(keys: bytes | list[str], count: int) -> bytes:
    """The last ``count`` of ``keys``."""
    return _binary(keys)[-count * KEY_BYTES :]


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=KEY_BYTES).digest()


def _binary(keys: bytes | list[str]) -> bytes:
    if isinstance(keys, list):  # the keys themselves, as canopsis kept them before
        return b"".join(map(_digest, keys))
    return keys
