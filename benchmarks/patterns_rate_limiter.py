"""The rate-limiter pattern's allow(), side by side with aiolimiter and limits.

`python benchmarks/patterns_rate_limiter.py [--rounds N] [--number N]` renders the
`rate-limiter` pattern with the installed `otpgen` into a temporary project, once per
algorithm (sliding-window, the default; token-bucket; fixed-window), imports the modules,
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
ratios are medians of per-round ratios. Time is this process's CPU time
(`time.process_time`), not the wall clock, which on a shared machine also counts the
slices other processes run in; the load average is printed with the table.

What is compared: one admission decision as each library's users make it, without
waiting (every call is admitted). aiolimiter has no `allow`: its non-waiting path is
`acquire()` when `has_capacity()`, which is what `await acquire()` runs here (it never
sleeps at this rate), coroutine included, since that is how it is called.

Target (from the issue): the default algorithm's `allow()` at least 4x faster than
aiolimiter's acquire (and, from an earlier issue, 3x faster than limits' moving window).
The other algorithms are shown for comparison.
Figures are a report, not a test: the exit status is 0 whether the target is met or not.
Needs `pip install aiolimiter limits`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import OtherLoad, load_average, otpgen_command

RATE = 1_000_000
KEYS = [f"client:{i}" for i in range(1000)]
ALGORITHMS = ("sliding-window", "token-bucket", "fixed-window")
DEFAULT = "sliding-window"  # the pattern's default (templates/patterns/rate-limiter)

AIOLIMITER = "aiolimiter AsyncLimiter.acquire (one per key)"
LIMITS = "limits MovingWindowRateLimiter.hit (memory)"


def ours(algorithm: str) -> str:
    default = " (default)" if algorithm == DEFAULT else ""
    return f"allow(), {algorithm}{default}"


def render(root: Path) -> dict[str, Any]:
    """Render the pattern once per algorithm into a project under `root`; import them."""
    otpgen, env = otpgen_command()
    (root / "src" / "benchshop").mkdir(parents=True)
    (root / "src" / "benchshop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "benchshop"\nversion = "0"\n')
    modules: dict[str, Any] = {}
    for algorithm in ALGORITHMS:
        name = "rl_" + algorithm.replace("-", "_")
        subprocess.run(
            [*otpgen, "new", "rate-limiter", name, "--no-input", "--set", f"algorithm={algorithm}"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        modules[algorithm] = name
    sys.path.insert(0, str(root / "src"))
    return {a: importlib.import_module(f"benchshop.{name}") for a, name in modules.items()}


def best_of_3(run: Callable[[], None], number: int) -> float:
    """CPU nanoseconds per call: the fastest of 3 runs of `number` calls, the GC off."""
    timings = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            started = time.process_time()
            run()
            timings.append(time.process_time() - started)
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


def report(
    samples: dict[str, list[float]], rounds: int, number: int, other_load: float | None
) -> None:
    print(
        f"rate limiter, CPU ns per admitted call: median [q1 .. q3] of {rounds} rounds, "
        f"each the best of 3 runs of {number:,} calls over {len(KEYS):,} keys"
    )
    others = "?" if other_load is None else f"{other_load:.2f}"
    print(
        f"python {sys.version.split()[0]}; load average {load_average()}; "
        f"other processes used {others} CPUs meanwhile"
    )
    width = max(len(label) for label in samples)
    default = ours(DEFAULT)
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
        if algorithm == DEFAULT:
            print(
                f"target: {algorithm} allow() >= 4x faster than aiolimiter: {vs_aio:5.2f}x  "
                f"{verdict(vs_aio >= 4)}; >= 3x than limits: {vs_limits:5.2f}x  "
                f"{verdict(vs_limits >= 3)}"
            )
        else:
            print(
                f"(for comparison) {algorithm}: {vs_aio:5.2f}x faster than aiolimiter, "
                f"{vs_limits:5.2f}x than limits"
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
            with OtherLoad() as other:
                for _ in range(args.rounds):
                    for label, run in runs.items():
                        samples[label].append(best_of_3(run, args.number))
    finally:
        loop.close()
    report(samples, args.rounds, args.number, other.cpus)


if __name__ == "__main__":
    main()
