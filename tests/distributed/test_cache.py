"""The cache's Redis backend: the behaviours of the in-memory one, a compute run once across
real OS processes (through a kill -9 of the one computing), and a near-cache that stays
within its staleness bound through a restart of the server.

The modules are rendered by the installed otpgen into a project of the test's own (memory;
redis with a near-cache, `sweeper=true`; redis without, `sweeper=false`) and imported. The
behavioural suite runs against each; the in-memory cache's calls are plain methods, the
Redis ones coroutines, and `call` awaits what needs awaiting.
"""

import asyncio
import contextlib
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import pytest_asyncio
import redis
import redis.asyncio
import redis.exceptions
from servers import RedisServer

PACKAGE = "cacheshop"
FLAVOURS = {
    "memory": ("memory", "true"),
    "redis": ("redis", "false"),
    "redis-near": ("redis", "true"),
}

DRIVER = """
import asyncio, importlib, json, os, sys, time

import redis.asyncio


async def main(module, url, prefix, callers, work, lock_ttl):
    rendered = importlib.import_module(module)
    pool = redis.asyncio.BlockingConnectionPool.from_url(url)
    client = redis.asyncio.Redis.from_pool(pool)
    cache = type(rendered.cache)(client=client, prefix=prefix, lock_ttl=lock_ttl)
    listener = await rendered.{listener}.start(cache)  # wakes waiters when a value is stored
    await client.ping()
    print("ready", flush=True)
    start_at = float(await asyncio.to_thread(sys.stdin.readline))
    await asyncio.sleep(max(0.0, start_at - time.time()))

    async def compute():
        await client.incr(prefix + "computes")
        await client.set(prefix + "computer", os.getpid())
        await asyncio.sleep(work)
        return str(os.getpid()).encode()

    results = await asyncio.gather(*(cache.get_or_compute("k", compute) for _ in range(callers)))
    await listener.stop()
    await client.aclose()
    print(json.dumps(sorted({{result.decode() for result in results}})))


module, url, prefix, callers, work, lock_ttl = sys.argv[1:]
asyncio.run(main(module, url, prefix, int(callers), float(work), float(lock_ttl)))
"""


def module_name(flavour: str) -> str:
    return f"cache_{flavour.replace('-', '_')}"


def class_name(flavour: str) -> str:
    return "".join(part.capitalize() for part in module_name(flavour).split("_"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("cache")
    (root / "src" / PACKAGE).mkdir(parents=True)
    (root / "src" / PACKAGE / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(f'[project]\nname = "{PACKAGE}"\nversion = "0"\n')
    for flavour, (backend, sweeper) in FLAVOURS.items():
        command = [sys.executable, "-m", "otpgen", "new", "cache", module_name(flavour)]
        command += ["--no-input", "--no-wire", "--set", f"backend={backend}"]
        command += ["--set", f"sweeper={sweeper}"]
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    listener = class_name("redis-near") + "Listener"
    (root / "driver.py").write_text(DRIVER.format(listener=listener))
    sys.path.insert(0, str(root / "src"))
    try:
        yield root
    finally:
        sys.path.remove(str(root / "src"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def rendered(flavour: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{module_name(flavour)}")


async def call(result: Any) -> Any:
    """A cache call's answer: awaited when it is a coroutine (Redis), as is otherwise."""
    return await result if inspect.isawaitable(result) else result


@pytest_asyncio.fixture(params=list(FLAVOURS))
async def make(request: pytest.FixtureRequest, project: Path) -> AsyncIterator[Any]:
    """Makes caches of one flavour: every Redis one on one test prefix (shared entries)."""
    flavour = request.param
    module = rendered(flavour)
    if flavour == "memory":
        yield lambda **options: type(module.cache)(**options)
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    clients: list[redis.asyncio.Redis] = []
    supervisors: list[Any] = []
    otp = importlib.import_module(f"{PACKAGE}.otp")

    async def made(**options: Any) -> Any:
        clients.append(redis.asyncio.Redis.from_url(url))
        cache = type(module.cache)(client=clients[-1], prefix=prefix, **options)
        if flavour == "redis-near":
            listener = getattr(module, class_name(flavour) + "Listener")
            supervisors.append(await otp.Supervisor.start([listener.child_spec(cache)]))
            for _ in range(500):  # until it is subscribed
                if (await clients[-1].pubsub_numsub(cache.channel))[0][1]:
                    break
                await asyncio.sleep(0.01)
        return cache

    yield made
    for supervisor in supervisors:
        await supervisor.stop(otp.SHUTDOWN)
    for client in clients:
        await client.aclose()


async def test_get_put_delete(make: Any) -> None:
    cache = await call(make(ttl=None))
    assert await call(cache.get("k")) is None
    assert await call(cache.get("k", b"d")) == b"d"
    await call(cache.put("k", b"v"))
    assert await call(cache.get("k")) == b"v"
    await call(cache.put("k", b"w"))
    assert await call(cache.get("k")) == b"w"
    assert await call(cache.delete("k")) is True
    assert await call(cache.delete("k")) is False
    assert await call(cache.get("k")) is None
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (2, 3)


async def test_an_entry_lives_its_ttl(make: Any) -> None:
    cache = await call(make(ttl=0.05))
    await call(cache.put("short", b"1"))
    await call(cache.put("long", b"2", ttl=30.0))
    assert await call(cache.get("short")) == b"1"
    await asyncio.sleep(0.15)
    if hasattr(cache, "expire"):
        cache.expire()  # the memory cache's sweeper is not running here
    assert await call(cache.get("short")) is None
    assert await call(cache.get("long")) == b"2"


async def test_concurrent_callers_compute_once_and_share_a_failure(make: Any) -> None:
    cache = await call(make(ttl=None))
    computed = 0

    async def compute() -> bytes:
        nonlocal computed
        computed += 1
        await asyncio.sleep(0.05)
        return b"value"

    results = await asyncio.gather(*(cache.get_or_compute("k", compute) for _ in range(50)))
    assert results == [b"value"] * 50
    assert computed == 1

    async def failing() -> bytes:
        await asyncio.sleep(0.02)
        raise LookupError("no value")

    failures = await asyncio.gather(
        *(cache.get_or_compute("f", failing) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(failure, LookupError) for failure in failures)
    assert await call(cache.get("f")) is None  # nothing stored: the next call computes


async def test_a_write_by_another_cache_is_seen(make: Any, request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["make"] == "memory":
        pytest.skip("in memory, each cache is its own")
    here, there = await make(ttl=None), await make(ttl=None)
    await there.put("k", b"old")
    assert await here.get("k") == b"old"
    await there.put("k", b"new")
    deadline = time.monotonic() + 1.0  # the near-cache's bound: NEAR_TTL
    for _ in range(2000):
        if await here.get("k") == b"new":
            break
        await asyncio.sleep(0.001)
    assert time.monotonic() < deadline


class Drivers:
    """The driver as OS processes computing one key of one prefix."""

    def __init__(self, project: Path, url: str, prefix: str) -> None:
        self.project, self.url, self.prefix = project, url, prefix
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, count: int, callers: int, work: float, lock_ttl: float) -> None:
        module = f"{PACKAGE}.{module_name('redis-near')}"
        command = [sys.executable, str(self.project / "driver.py"), module, self.url]
        command += [self.prefix, str(callers), str(work), str(lock_ttl)]
        env = {**os.environ, "PYTHONPATH": str(self.project / "src")}
        for _ in range(count):
            self.processes.append(
                subprocess.Popen(
                    command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
            )
        for process in self.processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        start_at = time.time() + 0.1
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"{start_at!r}\n")
            process.stdin.flush()

    def results(self, processes: list[subprocess.Popen[str]]) -> list[list[str]]:
        found = []
        for process in processes:
            out, _ = process.communicate(timeout=60)
            assert process.returncode == 0
            found.append(json.loads(out))
        return found

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def drivers(project: Path, redis_url: str, redis_prefix: str) -> Iterator[Drivers]:
    group = Drivers(project, redis_url, redis_prefix)
    try:
        yield group
    finally:
        group.close()


def test_a_stampede_on_four_processes_computes_once(
    drivers: Drivers, redis_url: str, redis_prefix: str
) -> None:
    drivers.start(4, callers=250, work=0.3, lock_ttl=5.0)
    results = drivers.results(drivers.processes)
    assert len({tuple(r) for r in results}) == 1  # every caller got the one value
    assert len(results[0]) == 1
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.get(redis_prefix + "computes") == b"1"
    finally:
        client.close()


def test_a_computer_killed_mid_compute_is_taken_over(
    drivers: Drivers, redis_url: str, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        # Long computes: whoever takes the lock first is killed while it holds it.
        drivers.start(4, callers=50, work=1.5, lock_ttl=0.5)
        for _ in range(1000):
            computer = client.get(redis_prefix + "computer")
            if computer is not None:
                break
            time.sleep(0.005)
        assert computer is not None
        victim = next(p for p in drivers.processes if p.pid == int(computer))
        victim.kill()
        victim.wait()
        survivors = [p for p in drivers.processes if p is not victim]
        results = drivers.results(survivors)
        values = {value for result in results for value in result}
        assert len(values) == 1  # the survivors agree on one value...
        assert values != {str(victim.pid)}  # ...computed by one of them
        assert client.get(redis_prefix + "computes") == b"2"  # the killed one, and one more
    finally:
        client.close()


async def test_the_listener_reconnects_after_a_restart_and_the_bound_holds(
    project: Path, redis_server: RedisServer
) -> None:
    module = rendered("redis-near")
    otp = importlib.import_module(f"{PACKAGE}.otp")
    listener = getattr(module, class_name("redis-near") + "Listener")
    options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    here_client = redis.asyncio.Redis.from_url(redis_server.url, **options)
    there_client = redis.asyncio.Redis.from_url(redis_server.url, **options)
    here = type(module.cache)(client=here_client, prefix="p:", ttl=None)
    there = type(module.cache)(client=there_client, prefix="p:", ttl=None)
    supervisor = await otp.Supervisor.start([listener.child_spec(here)])

    async def subscribed() -> bool:
        try:
            return bool((await there_client.pubsub_numsub(here.channel))[0][1])
        except redis.exceptions.ConnectionError:
            return False

    async def until(check: Any) -> None:
        for _ in range(1000):
            if await check():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("not within 10 s")

    try:
        await until(subscribed)
        await there.put("k", b"v1")
        assert await here.get("k") == b"v1"
        assert here.stats().size == 1  # a local copy
        redis_server.stop()
        with pytest.raises(redis.exceptions.ConnectionError):
            await there.put("k", b"lost")

        async def emptied() -> bool:
            return here.stats().size == 0  # the subscription is down: no copies

        await until(emptied)
        redis_server.start()  # empty
        await until(subscribed)

        async def put_v2() -> bool:  # a connection the restart broke fails once each
            try:
                await there.put("k", b"v2")
            except redis.exceptions.ConnectionError:
                return False
            return True

        await until(put_v2)
        for _ in range(10):  # here's stale connections, likewise
            with contextlib.suppress(redis.exceptions.ConnectionError):
                assert await here.get("k") == b"v2"
                break
        assert await here.get("k") == b"v2"
        await there.put("k", b"v3")  # invalidated over the new subscription

        async def fresh() -> bool:
            return await here.get("k") == b"v3"

        started = time.monotonic()
        await until(fresh)
        assert time.monotonic() - started < 1.0  # NEAR_TTL
    finally:
        await supervisor.stop(otp.SHUTDOWN)
        await here_client.aclose()
        await there_client.aclose()
