"""The cache on Redis (backend=redis): a near-cache hit beside a plain GET, and a stampede.

`python benchmarks/distributed_cache.py [--rounds N] [--number N] [--url URL]` renders the
`cache` pattern with `--set backend=redis` (sweeper=true, the default: a near-cache and its
listener) into a temporary project, then measures:

1. A hit, one process: `await cache.get(key)` answered by the near-cache (a local copy,
   the listener subscribed), beside `await client.get(key)`, a plain redis-py GET of the
   same key on the same server. Each run is `--number` sequential awaits in one
   coroutine; the round's figure is the best of 3 runs; rounds interleave the two, and
   the ratio is the median of the per-round ratios. Wall-clock time: a GET's cost is
   mostly waiting for the server, which CPU time would not see.
2. A stampede: 4 OS processes, 250 callers each, all calling `get_or_compute` on one
   missing key at a moment given to all once every process has imported and connected;
   `compute` counts itself in Redis and takes 100 ms. Reported: how many computes ran
   (the target is exactly one) and how long until the last caller had its value.

Targets (from the issue): a near-cache hit >= 20x faster than a plain GET; the stampede
of 1,000 callers on 4 processes computes once. Figures are a report, not a test: the
exit status is 0 either way. Needs a Redis server (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from harness import load_average, otpgen_command

PROCESSES = 4
CALLERS = 250  # per process
WORK = 0.1  # seconds per compute


def render(root: Path) -> Path:
    """Render the pattern with backend=redis into a project under `root`; its src."""
    otpgen, env = otpgen_command()
    (root / "src" / "benchshop").mkdir(parents=True)
    (root / "src" / "benchshop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "benchshop"\nversion = "0"\n')
    command = [*otpgen, "new", "cache", "shared", "--no-input", "--set", "backend=redis"]
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return root / "src"


def imported(src: str) -> Any:
    sys.path.insert(0, src)
    return importlib.import_module("benchshop.shared")


async def hits(src: str, url: str, rounds: int, number: int) -> dict[str, list[float]]:
    """ns per call of a near-cache hit and of a plain GET, per round."""
    import redis.asyncio

    module = imported(src)
    client = redis.asyncio.Redis.from_url(url)
    prefix = f"otpgen-bench:{uuid.uuid4().hex[:8]}:"
    cache = type(module.cache)(client=client, prefix=prefix, ttl=None, near_ttl=3600.0)
    listener = await module.SharedListener.start(cache)
    try:
        for _ in range(500):  # until it is subscribed: copies are kept from then on
            if (await client.pubsub_numsub(cache.channel))[0][1]:
                break
            await asyncio.sleep(0.01)
        await cache.put("k", b"x" * 100)
        assert cache.stats().size == 1, "no local copy: the listener is not subscribed"
        name = prefix + "k"

        async def near() -> None:
            for _ in range(number):
                await cache.get("k")

        async def plain() -> None:
            for _ in range(number):
                await client.get(name)

        samples: dict[str, list[float]] = {"near": [], "get": []}
        for _ in range(rounds):
            for label, run in (("near", near), ("get", plain)):
                best = float("inf")
                for _ in range(3):
                    started = time.perf_counter()
                    await run()
                    best = min(best, time.perf_counter() - started)
                samples[label].append(best / number * 1e9)
        return samples
    finally:
        await listener.stop()
        await client.delete(name)
        await client.aclose()


async def stampede_worker(src: str, url: str, prefix: str) -> dict[str, float]:
    import redis.asyncio

    module = imported(src)
    client = redis.asyncio.Redis.from_pool(redis.asyncio.BlockingConnectionPool.from_url(url))
    cache = type(module.cache)(client=client, prefix=prefix)
    listener = await module.SharedListener.start(cache)
    await client.ping()
    print("ready", flush=True)
    start_at = float(await asyncio.to_thread(sys.stdin.readline))
    await asyncio.sleep(max(0.0, start_at - time.time()))

    async def compute() -> bytes:
        await client.incr(prefix + "computes")
        await asyncio.sleep(WORK)
        return b"value"

    results = await asyncio.gather(*(cache.get_or_compute("k", compute) for _ in range(CALLERS)))
    finished = time.time()
    assert set(results) == {b"value"}
    await listener.stop()
    await client.aclose()
    return {"finished": finished, "start_at": start_at}


def stampede(src: Path, url: str) -> tuple[int, float]:
    """(computes, seconds until the last of 1,000 callers had the value)."""
    import redis

    prefix = f"otpgen-bench:{uuid.uuid4().hex[:8]}:"
    command = [sys.executable, __file__, "--worker", "--src", str(src), "--url", url]
    command += ["--prefix", prefix]
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    for process in processes:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("a stampede worker failed to start")
    start_at = time.time() + 0.1
    reports = []
    for process in processes:
        out, _ = process.communicate(f"{start_at!r}\n", timeout=120)
        if process.returncode != 0:
            raise SystemExit(f"a stampede worker failed ({process.returncode})")
        reports.append(json.loads(out))
    client = redis.Redis.from_url(url)
    try:
        computes = int(client.get(prefix + "computes") or 0)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    return computes, max(r["finished"] for r in reports) - start_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the hit comparison")
    parser.add_argument("--number", type=int, default=5_000, help="calls per run")
    parser.add_argument("--stampedes", type=int, default=3, help="stampedes to run")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0", help="the Redis server")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(stampede_worker(args.src, args.url, args.prefix))))
        return
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-distributed-cache-") as tmp:
        src = render(Path(tmp))
        samples = asyncio.run(hits(str(src), args.url, args.rounds, args.number))
        stampedes = [stampede(src, args.url) for _ in range(args.stampedes)]
    print(f"cache on Redis; python {sys.version.split()[0]}; load average {load_average()}")
    print(
        f"1. a hit, ns per call (wall clock): median [min .. max] of {args.rounds} rounds, "
        f"each the best of 3 runs of {args.number:,} sequential awaits"
    )
    labels = {"near": "await cache.get(key), near-cache hit", "get": "await client.get(key)"}
    for label, values in samples.items():
        print(
            f"  {labels[label]:<40} {statistics.median(values):10,.0f}  "
            f"[{min(values):10,.0f} .. {max(values):10,.0f}]"
        )
    ratio = statistics.median(g / n for g, n in zip(samples["get"], samples["near"], strict=True))
    print(f"target: a near-cache hit >= 20x faster than GET: {ratio:.1f}x  {verdict(ratio >= 20)}")
    print(
        f"2. stampede: {PROCESSES} processes x {CALLERS} callers on one missing key, "
        f"compute {WORK * 1000:.0f} ms"
    )
    for number, (computes, seconds) in enumerate(stampedes, 1):
        print(f"  run {number}: {computes} compute(s), every caller served in {seconds:.3f} s")
    once = all(computes == 1 for computes, _ in stampedes)
    print(f"target: exactly one compute per stampede: {verdict(once)}")


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


if __name__ == "__main__":
    main()
