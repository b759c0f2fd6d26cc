"""Real servers for the tests that need one: Redis and PostgreSQL (a pytest plugin).

Where a server comes from, the first that answers wins:

1. the environment: `OTPGEN_TEST_REDIS_URL`, `OTPGEN_TEST_POSTGRES_DSN`;
2. the machine's own: Redis on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432 (user
   postgres, database test, trust authentication);
3. for Redis only, `redis-server` from PATH, started for the session on a free loopback
   port (PostgreSQL refuses to run as root, which CI machines often are).

With none, a test that needs the server is skipped with a message saying how to run it;
under `CI=true` it fails instead, so CI never passes by skipping.

Each test gets its own namespace and leaves nothing behind: `redis_prefix` is a key prefix
whose keys are deleted afterwards, `postgres_dsn` a database created for the test and
dropped afterwards. `redis_server` is a private redis-server the test may stop and start
again (the same port), for tests of what clients do while the server is away.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

LOCAL_REDIS = "redis://127.0.0.1:6379/0"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
HOW = {
    "redis": "start Redis on 127.0.0.1:6379 (e.g. `redis-server --daemonize yes`) or set "
    "OTPGEN_TEST_REDIS_URL",
    "postgres": "start PostgreSQL on 127.0.0.1:5432 with trust authentication and a database "
    "`test`, or set OTPGEN_TEST_POSTGRES_DSN",
}


def _answers(url: str) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (6379 if parts.scheme.startswith("redis") else 5432)
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
        return True
    return False


def _missing(server: str) -> None:
    """Skip (or, under CI, fail) the test that needs `server`."""
    message = f"no {server} server: {HOW[server]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: tests may not skip for a missing server)")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A redis-server of the test's own on a loopback port, stopped after the test.

    `stop()` then `start()` brings it back on the same port with no data (it keeps nothing
    on disk), as a restarted cache server would come back.
    """

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redis-")))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and return once it accepts connections."""
        executable = shutil.which("redis-server")
        assert executable is not None, "redis-server is not on PATH"
        assert self.process is None, "already running"
        command = [executable, "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10.0
        while not _answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Kill the server (SIGKILL: clients see the connection drop, as in a crash)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10.0)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def _session_redis() -> Iterator[str | None]:
    """The URL of a Redis for the session, or None if there is none to be had."""
    given = os.environ.get("OTPGEN_TEST_REDIS_URL")
    if given:
        yield given
        return
    if _answers(LOCAL_REDIS):
        yield LOCAL_REDIS
        return
    if shutil.which("redis-server") is None:
        yield None
        return
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def redis_url(_session_redis: str | None) -> str:
    """The URL of a running Redis (skips, or fails under CI, when there is none)."""
    if _session_redis is None or not _answers(_session_redis):
        _missing("redis")
    assert _session_redis is not None
    return _session_redis


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted after the test."""
    import redis

    prefix = f"otpgen-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        with contextlib.suppress(redis.ConnectionError):
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of the test's own, running, that the test may stop and start."""
    if shutil.which("redis-server") is None:
        _missing("redis")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_dsn() -> Iterator[str]:
    """The DSN of a database made for this test on a running PostgreSQL, dropped after."""
    base = os.environ.get("OTPGEN_TEST_POSTGRES_DSN") or LOCAL_POSTGRES
    if not _answers(base):
        _missing("postgres")
    import psycopg

    name = f"otpgen_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(base)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
