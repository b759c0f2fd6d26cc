"""The rate-limiter pattern's allow(), side by side with aiolimiter and limits.

`python benchmarks/patterns_rate_limiter.py [--rounds N] [--number N]` renders the
`rate-limiter` pattern with the installed `otpgen` into a temporary project, once per
algorithm (token-bucket, the default; sliding-window; fixed-window), imports the modules,
and times one admission decision per call over 1,000 keys taken in turn:

- `limiter.allow(key)` for each rendered algorithm;
- aiolimiter: `await limiters[key].acquire()`, one `AsyncLimiter` per key (it has no keys
  of its own), awaited in a coroutine as its users do;
- limits: `MovingWindowRateLimiter(MemoryStorage()).hit(item, key)`, its in-memory moving
  window (the counterpart of the sliding window).

Every limit is 1,000,000 per second, so every call is admitted: the measured path is the
one that records a request. Each contender runs `number` calls per loop, the best of 3
loops per round (the garbage collector off, as timeit does), rounds interleaved so machine
drift hits all of them; the table shows medians and quartiles in nanoseconds per call, and
ratios are medians of per-round ratios.

Target (from the issue): `allow()` at least 3x faster than aiolimiter's acquire and than
limits' moving window. It applies to the default algorithm; the others are shown too.
Figures are a report, not a test: the exit status is 0 whether the target is met or not.
Needs `pip install aiolimiter limits`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RATE = 1_000_000
KEYS = [f"client:{i}" for i in range(1000)]
ALGORITHMS = ("token-bucket", "sliding-window", "fixed-window")

AIOLIMITER = "aiolimiter AsyncLimiter.acquire (one per key)"
LIMITS = "limits MovingWindowRateLimiter.hit (memory)"


def ours(algorithm: str) -> str:
    default = " (default)" if algorithm == "token-bucket" else ""
    return f"allow(), {algorithm}{default}"


def render(root: Path) -> dict[str, Any]:
    """Render the pattern once per algorithm into a project under `root`; import them."""
    otpgen = shutil.which("otpgen")
    if otpgen is None:
        raise SystemExit("otpgen is not installed: pip install -e .")
    (root / "src" / "benchshop").mkdir(parents=True)
    (root / "src" / "benchshop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "benchshop"\nversion = "0"\n')
    modules: dict[str, Any] = {}
    for algorithm in ALGORITHMS:
        name = "rl_" + algorithm.replace("-", "_")
        subprocess.run(
            [otpgen, "new", "rate-limiter", name, "--no-input", "--set", f"algorithm={algorithm}"],
            cwd=root,
            check=True,
            capture_output=True,
        )
        modules[algorithm] = name
    sys.path.insert(0, str(root / "src"))
    return {a: importlib.import_module(f"benchshop.{name}") for a, name in modules.items()}


def best_of_3(run: Callable[[], None], number: int) -> float:
    """Nanoseconds per call: the fastest of 3 runs of `number` calls, the GC off."""
    timings = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            started = time.perf_counter()
            run()
            timings.append(time.perf_counter() - started)
    finally:
        if enabled:
            gc.enable()
    return min(timings) / number * 1e9


def contenders(
    modules: dict[str, Any], number: int, loop: asyncio.AbstractEventLoop
) -> dict[str, Callable[[], None]]:
    try:
        from aiolimiter import AsyncLimiter
        from limits import RateLimitItemPerSecond
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter
    except ImportError:
        raise SystemExit("needs aiolimiter and limits: pip install aiolimiter limits") from None
    sequence = [KEYS[i % len(KEYS)] for i in range(number)]
    runs: dict[str, Callable[[], None]] = {}

    for algorithm, module in modules.items():
        limiter = type(module.limiter)(limit=RATE, period=1.0)  # the rendered class

        def run_ours(allow: Callable[[str], bool] = limiter.allow) -> None:
            for key in sequence:
                allow(key)

        runs[ours(algorithm)] = run_ours

    per_key = {key: AsyncLimiter(RATE, 1.0) for key in KEYS}

    async def acquire_all() -> None:
        for key in sequence:
            await per_key[key].acquire()

    def run_aiolimiter() -> None:
        loop.run_until_complete(acquire_all())

    runs[AIOLIMITER] = run_aiolimiter
    moving = MovingWindowRateLimiter(MemoryStorage())
    item = RateLimitItemPerSecond(RATE)

    def run_limits() -> None:
        hit = moving.hit
        for key in sequence:
            hit(item, key)

    runs[LIMITS] = run_limits
    return runs


def paired(samples: dict[str, list[float]], top: str, bottom: str) -> float:
    """The median over rounds of top/bottom, each ratio taken within one round."""
    return statistics.median(a / b for a, b in zip(samples[top], samples[bottom], strict=True))


def report(samples: dict[str, list[float]], rounds: int, number: int) -> None:
    print(
        f"rate limiter, ns per admitted call: median [q1 .. q3] of {rounds} rounds, "
        f"each the best of 3 runs of {number:,} calls over {len(KEYS):,} keys"
    )
    print(f"python {sys.version.split()[0]}")
    width = max(len(label) for label in samples)
    default = ours("token-bucket")
    for label, values in samples.items():
        q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
        print(
            f"  {label:<{width}}  {statistics.median(values):8.1f}  [{q1:7.1f} .. {q3:7.1f}]"
            f"  {paired(samples, label, default):5.2f}x default"
        )
    print()
    print("ratios: the median of the per-round ratios (both measured in the same round)")
    for algorithm in ALGORITHMS:
        label = ours(algorithm)
        vs_aio = paired(samples, AIOLIMITER, label)
        vs_limits = paired(samples, LIMITS, label)
        target = "target" if algorithm == "token-bucket" else "(for comparison)"
        print(
            f"{target}: {algorithm} allow() >= 3x faster than aiolimiter: {vs_aio:5.2f}x  "
            f"{verdict(vs_aio >= 3)}; than limits: {vs_limits:5.2f}x  {verdict(vs_limits >= 3)}"
        )


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="rounds per contender")
    parser.add_argument("--number", type=int, default=20_000, help="calls per run")
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    try:
        with tempfile.TemporaryDirectory(prefix="otpgen-bench-rate-limiter-") as tmp:
            runs = contenders(render(Path(tmp)), args.number, loop)
            samples: dict[str, list[float]] = {label: [] for label in runs}
            for _ in range(args.rounds):
                for label, run in runs.items():
                    samples[label].append(best_of_3(run, args.number))
    finally:
        loop.close()
    report(samples, args.rounds, args.number)


if __name__ == "__main__":
    main()
