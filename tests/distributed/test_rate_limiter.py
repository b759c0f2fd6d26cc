"""The rate limiter's Redis backend: the same decisions as the in-memory one, and one limit
across real OS processes, through a kill -9 and a restart of the server.

The modules are rendered by the installed otpgen into a project of the test's own, once per
algorithm and backend, and imported. The in-memory backend is the reference: driven by the
same clock through the same requests, the Redis backend must answer every `allow` and
`retry_after` exactly as it does. The multi-process tests run a small driver as 4 OS
processes on one key and check what they were admitted against the limit.

How "never over the limit in any window" is checked without the server's timestamps: each
admission is known to have happened between the moment its request was sent and the moment
its reply came back, [sent, received], on the host's clock. A window holding every such
interval of more than `limit` admissions is a certain breach; the check looks for one in
every window that starts at a `sent`. Whether the server's clock is the host's does not
matter: only differences between the host's times are compared.
"""

import asyncio
import importlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis.asyncio
from servers import RedisServer

ALGORITHMS = ("sliding-window", "token-bucket", "fixed-window")
BACKENDS = ("memory", "redis")
PACKAGE = "rlshop"

DRIVER = """
import asyncio, importlib, json, sys, time

import redis.asyncio, redis.exceptions


async def main(module, url, prefix, limit, period, seconds, tasks):
    limiter_type = type(importlib.import_module(module).limiter)
    client = redis.asyncio.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    limiter = limiter_type(limit, period, client=client, prefix=prefix)
    await limiter.retry_after("k")  # connected, the script loaded, nothing spent
    print("ready", flush=True)
    admitted, refused, errors = [], 0, 0
    stop = time.time() + seconds

    async def hammer():
        nonlocal refused, errors
        while time.time() < stop:
            sent = time.time()
            try:
                passed = await limiter.allow("k")
            except redis.exceptions.RedisError:
                errors += 1
                await asyncio.sleep(0.01)
                continue
            if passed:
                admitted.append((sent, time.time()))
            else:
                refused += 1

    await asyncio.gather(*(hammer() for _ in range(tasks)))
    await client.aclose()
    print(json.dumps({"admitted": admitted, "refused": refused, "errors": errors}))


module, url, prefix, limit, period, seconds, tasks = sys.argv[1:]
asyncio.run(main(module, url, prefix, int(limit), float(period), float(seconds), int(tasks)))
"""


def module_name(algorithm: str, backend: str) -> str:
    return f"rl_{algorithm.replace('-', '_')}_{backend}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project holding the pattern rendered for every algorithm and backend; its src."""
    root = tmp_path_factory.mktemp("rate-limiter")
    (root / "src" / PACKAGE).mkdir(parents=True)
    (root / "src" / PACKAGE / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(f'[project]\nname = "{PACKAGE}"\nversion = "0"\n')
    for algorithm in ALGORITHMS:
        for backend in BACKENDS:
            command = [sys.executable, "-m", "otpgen", "new", "rate-limiter"]
            command += [module_name(algorithm, backend), "--no-input", "--no-wire"]
            command += ["--set", f"algorithm={algorithm}", "--set", f"backend={backend}"]
            done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
    (root / "driver.py").write_text(DRIVER)
    sys.path.insert(0, str(root / "src"))
    try:
        yield root
    finally:
        sys.path.remove(str(root / "src"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def rendered(algorithm: str, backend: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{module_name(algorithm, backend)}")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0  # an epoch time, as Redis' own would be

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_redis_answers_exactly_as_memory_does(
    project: Path, algorithm: str, seed: int, redis_url: str, redis_prefix: str
) -> None:
    clock = FakeClock()
    memory: Any = type(rendered(algorithm, "memory").limiter)(8, 1.0, clock=clock)
    client = redis.asyncio.Redis.from_url(redis_url)
    shared: Any = type(rendered(algorithm, "redis").limiter)(
        8, 1.0, client=client, prefix=redis_prefix, clock=clock
    )
    rng = random.Random(seed)
    try:
        for step in range(300):
            key, cost = rng.choice("ab"), rng.choice((1, 1, 1, 2, 3, 8, 9))
            if rng.random() < 0.3:
                expected, got = memory.retry_after(key, cost), await shared.retry_after(key, cost)
            else:
                expected, got = memory.allow(key, cost), await shared.allow(key, cost)
            assert got == expected, (step, key, cost, clock.now)
            # Multiples of 1/64 s: exact in binary floats and in whole microseconds.
            clock.now += rng.choice((0, 0, 1, 3, 17, 64)) / 64
    finally:
        await client.aclose()


def breaches(admitted: list[tuple[float, float]], limit: float, length: float) -> int:
    """The most admissions certainly inside one window of `length` (see the docstring)."""
    spans = sorted(admitted)
    most = 0
    for start, _ in spans:
        inside = sum(1 for sent, received in spans if sent >= start and received < start + length)
        most = max(most, inside)
    return most


def most_per_window(algorithm: str, limit: int, period: float) -> float:
    """The most one window of `period` may hold: twice the limit for the fixed window
    (the end of one window and the start of the next) and the token bucket (a full
    bucket, then a period's refill)."""
    return limit if algorithm == "sliding-window" else 2 * limit


def most_in(algorithm: str, limit: int, period: float, seconds: float) -> float:
    """The most any `seconds` may hold, from the algorithm's definition."""
    if algorithm == "sliding-window":
        return limit * math.ceil(seconds / period)
    if algorithm == "token-bucket":
        return limit + limit * seconds / period
    return limit * (math.ceil(seconds / period) + 1)  # whole windows, one cut at each end


class Drivers:
    """The driver as OS processes on one Redis key."""

    def __init__(self, project: Path, algorithm: str, url: str, prefix: str) -> None:
        self.project, self.algorithm, self.url, self.prefix = project, algorithm, url, prefix
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, count: int, limit: int, period: float, seconds: float) -> None:
        module = f"{PACKAGE}.{module_name(self.algorithm, 'redis')}"
        command = [sys.executable, str(self.project / "driver.py"), module, self.url]
        command += [self.prefix, str(limit), str(period), str(seconds), "8"]
        env = {**os.environ, "PYTHONPATH": str(self.project / "src")}
        for _ in range(count):
            self.processes.append(
                subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
            )
        for process in self.processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"

    def results(self) -> list[dict[str, Any]]:
        """What each process that ended by itself reported."""
        found = []
        for process in self.processes:
            out, _ = process.communicate(timeout=60)
            if process.returncode == 0:
                found.append(json.loads(out))
        return found

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def drivers(project: Path, redis_url: str, redis_prefix: str) -> Iterator[Any]:
    made: list[Drivers] = []

    def make(algorithm: str, url: str = redis_url) -> Drivers:
        made.append(Drivers(project, algorithm, url, redis_prefix))
        return made[-1]

    try:
        yield make
    finally:
        for each in made:
            each.close()


def check_limit(
    admitted: list[tuple[float, float]], algorithm: str, limit: int, period: float
) -> None:
    assert breaches(admitted, limit, period) <= most_per_window(algorithm, limit, period)
    if admitted:
        span = max(r for _, r in admitted) - min(s for s, _ in admitted)
        assert len(admitted) <= most_in(algorithm, limit, period, span)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_four_processes_hammering_one_key_never_pass_the_limit(
    drivers: Any, algorithm: str
) -> None:
    limit, period, seconds = 20, 0.25, 2.5
    group = drivers(algorithm)
    group.start(4, limit, period, seconds)
    results = group.results()
    assert len(results) == 4
    admitted = [tuple(span) for result in results for span in result["admitted"]]
    assert sum(result["refused"] for result in results) > len(admitted)  # it was a flood
    check_limit(admitted, algorithm, limit, period)
    # And the limit is given, not only enforced: most windows are used up.
    span = max(r for _, r in admitted) - min(s for s, _ in admitted)
    assert len(admitted) >= 0.5 * limit * span / period


def test_the_survivors_keep_the_limit_after_one_is_killed(drivers: Any) -> None:
    limit, period, seconds = 20, 0.25, 3.0
    group = drivers("sliding-window")
    group.start(4, limit, period, seconds)
    time.sleep(0.8)
    group.processes[0].send_signal(signal.SIGKILL)  # mid-work: its calls are in flight
    killed_at = time.time()
    results = group.results()
    assert len(results) == 3
    admitted = [tuple(span) for result in results for span in result["admitted"]]
    check_limit(admitted, "sliding-window", limit, period)
    after = [span for span in admitted if span[0] > killed_at + period]
    assert len(after) >= limit  # a window after the kill, used up by the survivors


def test_the_limit_holds_again_once_a_restarted_server_is_back(
    drivers: Any, redis_server: RedisServer
) -> None:
    limit, period, seconds = 20, 0.25, 4.0
    group = drivers("sliding-window", redis_server.url)
    group.start(4, limit, period, seconds)
    time.sleep(0.8)
    redis_server.stop()
    stopped_at = time.time()
    time.sleep(0.5)
    redis_server.start()  # empty: no state, no script
    back_at = time.time()
    results = group.results()
    assert len(results) == 4
    admitted = [tuple(span) for result in results for span in result["admitted"]]
    before = [span for span in admitted if span[1] < stopped_at]
    after = [span for span in admitted if span[0] > back_at]
    assert before
    assert len(after) >= limit  # they reconnected and were admitted again
    # The restarted server forgot what it admitted before: each side keeps the limit.
    check_limit(before, "sliding-window", limit, period)
    check_limit(after, "sliding-window", limit, period)


async def test_an_unreachable_server_fails_the_callers_and_then_serves_them(
    project: Path, redis_server: RedisServer
) -> None:
    client = redis.asyncio.Redis.from_url(
        redis_server.url, socket_timeout=0.5, socket_connect_timeout=0.5
    )
    limiter: Any = type(rendered("sliding-window", "redis").limiter)(2, 60.0, client=client)
    try:
        assert await limiter.allow("k")
        redis_server.stop()
        answers = await asyncio.gather(
            *(limiter.allow("k") for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(a, redis.exceptions.ConnectionError) for a in answers), answers
        redis_server.start()  # empty: the key and the script are gone
        assert await limiter.allow("k", cost=2)
        assert not await limiter.allow("k")
    finally:
        await client.aclose()
