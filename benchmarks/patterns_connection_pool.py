"""The generated connection pool, measured: uncontended checkout cost and a contended run.

`python benchmarks/patterns_connection_pool.py [--rounds N]` renders the connection-pool
pattern with the installed `otpgen` into a temporary project (the default options, and
once more with `health_check=true`), imports the rendered modules, and measures side by
side, interleaved round by round so every contender sees the same machine load:

- uncontended checkout + checkin, per operation: `async with pool.connection()`,
  `checkout()` + `checkin()`, the health-checked pool on a hot connection (no ping is
  due), a bare `asyncio.Queue` of connections (the floor: no monitors, no timeouts, no
  reaping) and one kernel GenServer call round trip (what a pool that sends its process
  a message per checkout would pay at least);
- 1,000 tasks over 10 connections to a real TCP echo server on loopback, each checking
  out, doing one echo round trip and checking in: throughput, and the spread of the wait
  for a connection (median, p90, p99, max) and how many tasks were served out of arrival
  order; beside the floor, the same run over a bare `asyncio.Queue` of 10 connections
  (`await queue.get()`, then `queue.put_nowait(conn)`), and that floor with the checkout
  under `asyncio.timeout(5.0)`, as the generated pool's has a timeout;
- the same 1,000 tasks over 10 connections with no-op work (the block only yields once,
  `await asyncio.sleep(0)`, so every task but the first ten waits for a connection): the
  CPU time of the whole run (`time.process_time`: other processes' slices on the shared
  machine do not count) for the generated pool and for the bare `asyncio.Queue` floor.
  This isolates the pool's own contended checkout, which the echo round trips dilute.

Every figure is the median over the rounds; the no-op ratio is the median of per-round
ratios. Target (from the issue): the no-op contended run within 1.3x of the floor.
Targets are reported as met or missed; the exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from harness import OtherLoad, load_average, otpgen_command

PACKAGE = "benchshop"
TASKS = 1000
CONNECTIONS = 10
FLOOR = "asyncio.Queue (floor)"
TIMED_FLOOR = "asyncio.Queue + timeout"
UNCONTENDED_TARGET_US = 5.0
NOOP_TARGET = 1.3
NOOP_POOL = "no-op work, generated pool: CPU ms"
NOOP_FLOOR = "no-op work, asyncio.Queue (floor): CPU ms"

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def render(base: Path) -> tuple[ModuleType, ModuleType, ModuleType]:
    """Render the pattern twice into a fresh project; return both modules and the kernel."""
    otpgen, env = otpgen_command()
    (base / "src" / PACKAGE).mkdir(parents=True)
    (base / "src" / PACKAGE / "__init__.py").write_text("")
    (base / "pyproject.toml").write_text(f'[project]\nname = "{PACKAGE}"\nversion = "0"\n')
    for name, sets in (("connection_pool", []), ("checked_pool", ["--set", "health_check=true"])):
        subprocess.run(
            [*otpgen, "new", "connection-pool", name, "--no-input", *sets],
            cwd=base,
            env=env,
            check=True,
            capture_output=True,
        )
    sys.path.insert(0, str(base / "src"))
    return (
        importlib.import_module(f"{PACKAGE}.connection_pool"),
        importlib.import_module(f"{PACKAGE}.checked_pool"),
        importlib.import_module(f"{PACKAGE}.otp"),
    )


# The echo server and the pools' functions.


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    except ConnectionError:
        return
    finally:
        writer.close()


def tcp(port: int) -> tuple[Callable[[], Awaitable[Conn]], Callable[[Conn], Awaitable[None]]]:
    async def connect() -> Conn:
        return await asyncio.open_connection("127.0.0.1", port)

    async def close(conn: Conn) -> None:
        conn[1].close()
        try:
            await conn[1].wait_closed()
        except ConnectionError:
            return

    return connect, close


async def roundtrip(conn: Conn) -> None:
    reader, writer = conn
    writer.write(b"ping\n")
    await writer.drain()
    await reader.readline()


async def ping(conn: Conn) -> bool:
    await roundtrip(conn)
    return True


# Uncontended: one task, a connection always free. Each returns microseconds per operation.


async def pool_connection(pool: Any, ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        async with pool.connection():
            pass
    return (time.perf_counter() - started) / ops * 1e6


async def pool_checkout(pool: Any, ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        pool.checkin(await pool.checkout())
    return (time.perf_counter() - started) / ops * 1e6


async def queue_get_put(queue: asyncio.Queue[Conn], ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        conn = await queue.get()
        queue.put_nowait(conn)
    return (time.perf_counter() - started) / ops * 1e6


async def genserver_call(server: Any, ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        await server.call(None)
    return (time.perf_counter() - started) / ops * 1e6


# Contended: TASKS tasks at once over CONNECTIONS connections.


async def contended(acquire: Callable[[], Any]) -> tuple[float, list[float], int]:
    """Throughput (checkouts/s), every wait (ms), and how many were served out of order."""
    waits: list[float] = [0.0] * TASKS
    order: list[int] = []

    async def worker(n: int) -> None:
        asked = time.perf_counter()
        async with acquire() as conn:
            waits[n] = (time.perf_counter() - asked) * 1e3
            order.append(n)
            await roundtrip(conn)

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(TASKS)))
    elapsed = time.perf_counter() - started
    out_of_order = sum(1 for position, n in enumerate(order) if position != n)
    return TASKS / elapsed, waits, out_of_order


async def contended_noop(acquire: Callable[[], Any]) -> float:
    """CPU milliseconds for TASKS tasks to each check out, yield once and check in."""

    async def worker() -> None:
        async with acquire():
            await asyncio.sleep(0)

    gc.collect()  # the same heap for every contender: no collection left pending
    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(TASKS)))
    return (time.process_time() - started) * 1e3


class QueueBorrow:
    """The floor's checkout: a bare asyncio.Queue of connections, get then put."""

    def __init__(self, queue: asyncio.Queue[Conn]) -> None:
        self.queue = queue

    async def __aenter__(self) -> Conn:
        self.conn = await self.queue.get()
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        self.queue.put_nowait(self.conn)


class TimedQueueBorrow(QueueBorrow):
    """The floor plus a checkout timeout, as the generated pool has (for reference)."""

    async def __aenter__(self) -> Conn:
        async with asyncio.timeout(5.0):
            self.conn = await self.queue.get()
        return self.conn


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(
    pool_module: ModuleType, hc_module: ModuleType, otp: ModuleType, rounds: int, ops: int
) -> dict[str, list[float]]:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connect, close = tcp(port)
    pool = await pool_module.ConnectionPool.start(
        connect, close, min_size=CONNECTIONS, max_size=CONNECTIONS
    )
    pool_hc = await hc_module.CheckedPool.start(
        connect, close, ping, min_size=CONNECTIONS, max_size=CONNECTIONS
    )
    queue: asyncio.Queue[Conn] = asyncio.Queue()
    queue_conns = [await connect() for _ in range(CONNECTIONS)]
    for conn in queue_conns:
        queue.put_nowait(conn)

    class Echo(otp.GenServer):
        async def handle_call(self, request: object, caller: object) -> object:
            return request

    genserver = await Echo.start()
    samples: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    uncontended: dict[str, Callable[[], Awaitable[float]]] = {
        "async with pool.connection()": lambda: pool_connection(pool, ops),
        "pool.checkout() + checkin()": lambda: pool_checkout(pool, ops),
        "health_check=true, hot connection": lambda: pool_connection(pool_hc, ops),
        "asyncio.Queue get + put (floor)": lambda: queue_get_put(queue, ops),
        "GenServer call round trip (ref.)": lambda: genserver_call(genserver, ops),
    }
    heavy: dict[str, Callable[[], Any]] = {
        "generated pool": pool.connection,
        FLOOR: lambda: QueueBorrow(queue),
        TIMED_FLOOR: lambda: TimedQueueBorrow(queue),
    }
    try:
        for bench in uncontended.values():  # warm up
            await bench()
        for _ in range(rounds):
            for label, bench in uncontended.items():
                add(label, await bench())
            for label, acquire in heavy.items():
                throughput, waits, out_of_order = await contended(acquire)
                add(f"{label}: throughput", throughput)
                add(f"{label}: wait p50", percentile(waits, 0.50))
                add(f"{label}: wait p90", percentile(waits, 0.90))
                add(f"{label}: wait p99", percentile(waits, 0.99))
                add(f"{label}: wait max", max(waits))
                add(f"{label}: out of order", out_of_order)
            add(NOOP_POOL, await contended_noop(pool.connection))
            add(NOOP_FLOOR, await contended_noop(lambda: QueueBorrow(queue)))
    finally:
        await pool.abort()
        await pool_hc.abort()
        await genserver.stop()
        for conn in queue_conns:
            await close(conn)
        server.close()
        await server.wait_closed()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument("--ops", type=int, default=20_000, help="operations per round")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-pool-") as tmp:
        pool_module, hc_module, otp = render(Path(tmp))
        with OtherLoad() as other:
            samples = asyncio.run(measure(pool_module, hc_module, otp, args.rounds, args.ops))
    others = "?" if other.cpus is None else f"{other.cpus:.2f}"
    median = {key: statistics.median(values) for key, values in samples.items()}

    print(
        f"connection-pool pattern: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load_average()}, other processes used {others} CPUs meanwhile; "
        f"{args.rounds} rounds, medians"
    )
    print(f"\nuncontended checkout + checkin ({args.ops:,} per round), us per operation")
    for key in list(samples)[:5]:
        values = samples[key]
        print(f"  {key:36} {median[key]:7.2f}  (min {min(values):.2f}, max {max(values):.2f})")
    print(f"\n{TASKS:,} tasks over {CONNECTIONS} TCP connections, one echo round trip each")
    header = ("checkouts/s", "wait p50", "p90", "p99", "max", "unfair")
    print(f"  {'':24} {header[0]:>12} " + " ".join(f"{h:>8}" for h in header[1:]))
    waits = ("wait p50", "wait p90", "wait p99", "wait max")
    for label in ("generated pool", FLOOR, TIMED_FLOOR):
        row = [median[f"{label}: {part}"] for part in waits]
        print(
            f"  {label:24} {median[f'{label}: throughput']:12,.0f} "
            + " ".join(f"{value:6.2f}ms" for value in row)
            + f" {median[f'{label}: out of order']:8.0f}"
        )
    print("  (unfair: tasks served out of arrival order)")
    print(
        f"  floor / generated pool, throughput: "
        f"{median[f'{FLOOR}: throughput'] / median['generated pool: throughput']:.2f}x"
    )

    noop = statistics.median(
        a / b for a, b in zip(samples[NOOP_POOL], samples[NOOP_FLOOR], strict=True)
    )
    print(f"\n{TASKS:,} tasks over {CONNECTIONS} connections, no-op work, CPU ms per run")
    for key in (NOOP_POOL, NOOP_FLOOR):
        values = samples[key]
        print(f"  {key:42} {median[key]:7.2f}  (min {min(values):.2f}, max {max(values):.2f})")

    uncontended = median["async with pool.connection()"]
    print("\ntargets:")
    print(
        f"  no-op contended run <= {NOOP_TARGET:g}x the asyncio.Queue floor: {noop:.2f}x  "
        f"{'met' if noop <= NOOP_TARGET else 'MISSED'}"
    )
    met = uncontended <= UNCONTENDED_TARGET_US
    print(
        f"  uncontended checkout+checkin <= {UNCONTENDED_TARGET_US:g} us: "
        f"{uncontended:.2f} us  {'met' if met else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
