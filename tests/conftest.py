"""Shared fixtures: free ports and the real services the integration tests use."""

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} answered")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port} after {timeout} s")


@pytest.fixture(scope="session")
def mongo_client(tmp_path_factory):
    """A pymongo client on a real embedded MongoDB-compatible server (secantusd-py)."""
    server = shutil.which("secantusd-py", path=str(Path(sys.executable).parent))
    port = free_port()
    data = tmp_path_factory.mktemp("mongodb")
    proc = subprocess.Popen(
        [server, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 30, proc)
        client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=5000)
        yield client
        client.close()
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture
def mongo_db(mongo_client, request):
    """A database of its own for one test, dropped afterwards."""
    name = "t_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:60]
    mongo_client.drop_database(name)
    yield mongo_client[name]
    mongo_client.drop_database(name)
