"""How long the cache's sweeper and the rate limiter's cleaner hold up the event loop.

`python benchmarks/patterns_sweep_stall.py [--keys N]` renders the `cache` pattern and the
`rate-limiter` pattern (each algorithm) with the installed `otpgen` into a temporary
project, fills each with N keys (1,000,000 by default) that are all due for removal, and
runs one pass of the sweeper or cleaner while a ticker task, alone on the loop otherwise,
wakes up as often as it can (`await asyncio.sleep(0)`). The longest gap between two of its
wake-ups is the longest step the pass took without letting another task run.

Target (from issue 11): no step above 10 ms at 1,000,000 keys. Figures are a report, not a
test: the exit status is 0 whether the target is met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

PYPROJECT = '[project]\nname = "bench"\nversion = "0"\nrequires-python = ">=3.11"\n'
ALGORITHMS = ("sliding-window", "token-bucket", "fixed-window")
TARGET_MS = 10.0


def render(root: Path) -> dict[str, ModuleType]:
    """Render the cache and one rate limiter per algorithm; import them."""
    otpgen = shutil.which("otpgen")
    if otpgen is None:
        sys.exit("the otpgen console script is not installed: run `pip install .`")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src" / "bench").mkdir(parents=True)
    (root / "src" / "bench" / "__init__.py").write_text("")
    jobs: list[tuple[str, str, list[str]]] = [("cache", "swept", [])] + [
        ("rate-limiter", algorithm.replace("-", "_"), ["--set", f"algorithm={algorithm}"])
        for algorithm in ALGORITHMS
    ]
    for pattern, name, sets in jobs:
        command = [otpgen, "new", pattern, name, "--no-input", "--no-wire", *sets]
        subprocess.run(command, cwd=root, check=True, capture_output=True)
    sys.path.insert(0, str(root / "src"))
    return {name: importlib.import_module(f"bench.{name}") for _, name, _ in jobs}


class Ticker:
    """Wakes up as often as the loop lets it. `longest` is the longest gap between two
    wake-ups in CPU time of this thread (what the loop spent without yielding, with the
    time other processes of a shared machine took excluded); `longest_wall` in wall time.
    """

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_wall = 0.0
        self._running = True

    async def run(self) -> None:
        last, last_wall = time.thread_time(), time.perf_counter()
        while self._running:
            await asyncio.sleep(0)
            now, now_wall = time.thread_time(), time.perf_counter()
            self.longest = max(self.longest, now - last)
            self.longest_wall = max(self.longest_wall, now_wall - last_wall)
            last, last_wall = now, now_wall

    def stop(self) -> None:
        self._running = False


async def poll(condition: Callable[[], object]) -> None:
    """Wait until `condition()` holds, looking every millisecond."""
    while True:
        if condition():
            return
        await asyncio.sleep(0.001)


async def until(condition: Callable[[], object], ticker: Ticker) -> None:
    """Run the ticker until `condition()` holds."""
    task = asyncio.create_task(ticker.run())
    await poll(condition)
    ticker.stop()
    await task


async def cache_stall(module: ModuleType, keys: int) -> Ticker:
    cache = module.Swept(max_size=keys, ttl=0.01)
    logging.disable(logging.WARNING)  # "no sweeper runs": on purpose, so they all pile up
    for key in range(keys):
        cache.put(str(key), b"v")
    logging.disable(logging.NOTSET)
    await asyncio.sleep(0.02)  # every entry has expired: the sweeper finds them at once
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    await asyncio.sleep(0)
    sweeper = await module.SweptSweeper.start(cache)
    try:
        await poll(lambda: len(cache) == 0)
    finally:
        ticker.stop()
        await task
        await sweeper.stop()
    return ticker


async def limiter_stall(module: ModuleType, cls: str, keys: int) -> Ticker:
    clock = [1000.0]
    limiter = getattr(module, cls)(limit=10, period=1.0, clock=lambda: clock[0])
    for key in range(keys):
        limiter.allow(str(key))
    clock[0] += 2.0  # every key idle again
    cleaner = await getattr(module, cls + "Cleaner").start(limiter, 0.001)
    try:
        ticker = Ticker()
        await until(lambda: len(limiter) == 0, ticker)
    finally:
        await cleaner.stop()
    return ticker


async def measure(modules: dict[str, ModuleType], keys: int) -> dict[str, Ticker]:
    found = {"cache sweeper": await cache_stall(modules["swept"], keys)}
    for algorithm in ALGORITHMS:
        name = algorithm.replace("-", "_")
        cls = "".join(part.title() for part in name.split("_"))
        found[f"rate-limiter cleaner ({algorithm})"] = await limiter_stall(modules[name], cls, keys)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        modules = render(Path(tmp))
        gc.disable()  # a collection of a million objects is not the pass's doing
        found = asyncio.run(measure(modules, args.keys))
    print(f"Longest step without yielding the loop, {args.keys:,} keys due for removal")
    print(f"  {'':<40} {'CPU':>8}     {'wall':>8}")
    for name, ticker in found.items():
        ms, wall = ticker.longest * 1000, ticker.longest_wall * 1000
        verdict = "ok" if ms <= TARGET_MS else "ABOVE"
        print(f"  {name:<40} {ms:8.1f} ms  {wall:8.1f} ms  {verdict} {TARGET_MS:g} ms (CPU)")


if __name__ == "__main__":
    main()
