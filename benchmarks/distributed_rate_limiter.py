"""The rate limiter on Redis (backend=redis) beside limits' Redis moving window, 4 processes.

`python benchmarks/distributed_rate_limiter.py [--rounds N] [--seconds S] [--url URL]`
renders the `rate-limiter` pattern with `--set backend=redis` (the default algorithm,
sliding-window) into a temporary project, then, round after round, runs each contender
as 4 OS processes sharing one Redis:

- ours: `await limiter.allow(key)` of the rendered module (one Lua script per call, the
  server's clock);
- limits: `await MovingWindowRateLimiter(RedisStorage(url, implementation="redispy"))
  .hit(item, key)`, limits' asyncio Redis storage with redis-py, its moving window (the
  counterpart of the sliding window: the same guarantee).

Each process runs `--concurrency` tasks (16 by default) that check keys taken in turn
from 1,000 keys, each limited to 100 per second, for `--seconds` seconds, starting
together once every process has imported and connected. A round's figure is the sum of
the checks per second of its 4 processes; contenders alternate within each round so drift
hits both; the ratio is the median of the per-round ratios. Each contender uses a fresh
key prefix per round, deleted after.

Target (from the issue): ours >= 1.5x the checks per second of limits. Whether either
admits over the limit is not measured here: tests/distributed/test_rate_limiter.py
checks that for ours. Figures are a report, not a test: the exit status is 0 either way.
Needs a Redis server (default redis://127.0.0.1:6379/0) and `pip install limits redis`.
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
KEYS = [f"client:{i}" for i in range(1000)]
LIMIT = 100  # per key per second
OURS = "ours: allow(), sliding-window on Redis"
LIMITS = "limits: MovingWindowRateLimiter.hit, RedisStorage (redis-py)"
CONTENDERS = {"ours": OURS, "limits": LIMITS}


def render(root: Path) -> Path:
    """Render the pattern with backend=redis into a project under `root`; its src."""
    otpgen, env = otpgen_command()
    (root / "src" / "benchshop").mkdir(parents=True)
    (root / "src" / "benchshop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "benchshop"\nversion = "0"\n')
    command = [*otpgen, "new", "rate-limiter", "limits_shared", "--no-input"]
    command += ["--set", "backend=redis"]
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return root / "src"


async def worker(args: argparse.Namespace) -> dict[str, int]:
    """One process's run: (checks, admitted) over `seconds` from `start_at`."""
    checks = admitted = 0
    if args.worker == "ours":
        import redis.asyncio

        sys.path.insert(0, args.src)
        module = importlib.import_module("benchshop.limits_shared")
        client = redis.asyncio.Redis.from_url(args.url)
        limiter = type(module.limiter)(LIMIT, 1.0, client=client, prefix=args.prefix)
        check: Any = limiter.allow
        await client.ping()

        async def close() -> None:
            await client.aclose()

    else:
        from limits import RateLimitItemPerSecond
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        storage = RedisStorage(
            "async+" + args.url, implementation="redispy", key_prefix=args.prefix
        )
        moving = MovingWindowRateLimiter(storage)
        item = RateLimitItemPerSecond(LIMIT)

        async def check(key: str) -> bool:
            return await moving.hit(item, key)

        await moving.hit(item, "warm-up")  # loads the script, opens a connection

        async def close() -> None:
            pass

    print("ready", flush=True)  # then the parent says when to start, on stdin
    start_at = float(await asyncio.to_thread(sys.stdin.readline))
    stop = start_at + args.seconds

    async def task(offset: int) -> None:
        nonlocal checks, admitted
        index = offset
        while time.time() < stop:
            passed = await check(KEYS[index % len(KEYS)])  # before `+=` reads the count
            admitted += passed
            checks += 1
            index += 7

    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(task(n * 97) for n in range(args.concurrency)))
    await close()
    return {"checks": checks, "admitted": admitted}


def run_round(contender: str, src: Path, args: argparse.Namespace) -> dict[str, float]:
    """4 processes of `contender`: checks per second (all together), admitted per second."""
    prefix = f"otpgen-bench:{uuid.uuid4().hex[:8]}:"
    command = [sys.executable, __file__, "--worker", contender, "--src", str(src)]
    command += ["--url", args.url, "--prefix", prefix, "--seconds", str(args.seconds)]
    command += ["--concurrency", str(args.concurrency)]
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    for process in processes:  # every one has imported and connected
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit(f"a {contender} worker failed to start")
    start_at = time.time() + 0.1
    results = []
    for process in processes:
        out, _ = process.communicate(f"{start_at!r}\n", timeout=args.seconds + 60)
        if process.returncode != 0:
            raise SystemExit(f"a {contender} worker failed ({process.returncode})")
        results.append(json.loads(out))
    clean(args.url, prefix)
    return {
        "checks": sum(r["checks"] for r in results) / args.seconds,
        "admitted": sum(r["admitted"] for r in results) / args.seconds,
    }


def clean(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per contender")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a run")
    parser.add_argument("--concurrency", type=int, default=16, help="tasks per process")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0", help="the Redis server")
    parser.add_argument("--worker", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(args))))
        return
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in CONTENDERS}
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-distributed-rl-") as tmp:
        src = render(Path(tmp))
        for number in range(args.rounds):
            order = list(CONTENDERS) if number % 2 == 0 else list(reversed(CONTENDERS))
            for name in order:
                samples[name].append(run_round(name, src, args))
    print(
        f"rate limiter on Redis, checks per second from {PROCESSES} processes x "
        f"{args.concurrency} tasks, {len(KEYS):,} keys at {LIMIT}/s, {args.seconds:g} s runs: "
        f"median [min .. max] of {args.rounds} rounds"
    )
    print(f"python {sys.version.split()[0]}; load average {load_average()}; {args.url}")
    for name, label in CONTENDERS.items():
        rates = [s["checks"] for s in samples[name]]
        admits = statistics.median(s["admitted"] for s in samples[name])
        print(
            f"  {label:<62} {statistics.median(rates):9,.0f}  "
            f"[{min(rates):9,.0f} .. {max(rates):9,.0f}]  admitted {admits:7,.0f}/s"
        )
    ratio = statistics.median(
        a["checks"] / b["checks"] for a, b in zip(samples["ours"], samples["limits"], strict=True)
    )
    verdict = "met" if ratio >= 1.5 else "NOT met"
    print(f"target: ours >= 1.5x the checks per second of limits: {ratio:.2f}x  {verdict}")


if __name__ == "__main__":
    main()
