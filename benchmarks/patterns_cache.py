"""The cache pattern's read path, side by side with a plain dict and cachetools.

`python benchmarks/patterns_cache.py [--rounds N] [--number N]` renders the `cache` pattern
with the installed `otpgen` into a temporary project, twice (the default, with its sweeper,
and `--set sweeper=false`), imports both modules, and times a hit — `cache.get(key)` on a
present, unexpired key — next to `dict.get(key)` and `cachetools.TTLCache.get(key)` holding
the same 1,000 keys. Every contender is timed timeit-style once per round (the best of
three loops of `number` calls, the garbage collector off), rounds interleaved so machine
drift hits all of them; the table shows each one's median over the rounds and quartiles in
nanoseconds per call, and the ratios are medians of per-round ratios.

Time is this process's CPU time (`time.process_time`), not the wall clock: on a shared
machine the wall clock also counts the slices other processes run in, which doubled some
figures and made ratios swing from run to run. The load average is printed with the table.

Targets (from the issue): a hit of the default render (its sweeper lets reads skip the
clock) costs at most 3x a `dict.get` measured in the same run; and the lazy render
(`--set sweeper=false`: every read checks the entry's deadline against the clock, as
`cachetools.TTLCache` does) is at least 8x faster than `cachetools.TTLCache.get`: like
for like. Figures are a report, not a test: the exit status is 0 whether the targets are
met or not. Needs `pip install cachetools`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from types import ModuleType
from typing import Any

from harness import OtherLoad, load_average, otpgen_command

KEYS = [f"user:{i}" for i in range(1000)]
KEY = KEYS[500]
TTL = 300.0

DICT = "dict.get"
SWEPT = "cache.get (default: sweeper running)"
LAZY = "cache.get (sweeper=false: reads check the clock)"
TTLCACHE = "cachetools.TTLCache.get"


def render(root: Path) -> tuple[ModuleType, ModuleType]:
    """Render the default and the lazy cache into a fresh project under `root`; import them."""
    otpgen, env = otpgen_command()
    (root / "src" / "benchshop").mkdir(parents=True)
    (root / "src" / "benchshop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "benchshop"\nversion = "0"\n')
    for name, sets in (("swept_cache", []), ("lazy_cache", ["--set", "sweeper=false"])):
        subprocess.run(
            [*otpgen, "new", "cache", name, "--no-input", *sets],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
    sys.path.insert(0, str(root / "src"))
    return (
        importlib.import_module("benchshop.swept_cache"),
        importlib.import_module("benchshop.lazy_cache"),
    )


def time_call(statement: str, namespace: dict[str, Any], number: int) -> float:
    """CPU nanoseconds per execution of `statement`: the best of 3 loops of `number`
    (timeit's advice: the fastest loop is the one least disturbed by the rest of the
    machine)."""
    loops = timeit.repeat(
        statement, globals=namespace, number=number, repeat=3, timer=time.process_time
    )
    return min(loops) / number * 1e9


async def measure(rounds: int, number: int) -> dict[str, list[float]]:
    try:
        from cachetools import TTLCache
    except ImportError:
        raise SystemExit("cachetools is not installed: pip install cachetools") from None
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-cache-") as tmp:
        swept_module, lazy_module = render(Path(tmp))
        plain = {key: key.upper() for key in KEYS}
        swept = swept_module.SweptCache(max_size=10_000, ttl=TTL)
        lazy = lazy_module.LazyCache(max_size=10_000, ttl=TTL)
        ttl_cache: TTLCache[str, str] = TTLCache(maxsize=10_000, ttl=TTL)
        sweeper = await swept_module.SweptCacheSweeper.start(swept)
        try:
            for key in KEYS:
                swept.put(key, key.upper())
                lazy.put(key, key.upper())
                ttl_cache[key] = key.upper()
            assert swept.get(KEY) == lazy.get(KEY) == ttl_cache.get(KEY) == plain.get(KEY)
            contenders = {DICT: plain, SWEPT: swept, LAZY: lazy, TTLCACHE: ttl_cache}
            samples: dict[str, list[float]] = {label: [] for label in contenders}
            for _ in range(rounds):
                for label, obj in contenders.items():
                    # `obj.get(key)` exactly as a caller writes it: the method lookup counts.
                    namespace = {"obj": obj, "key": KEY}
                    samples[label].append(time_call("obj.get(key)", namespace, number))
        finally:
            await sweeper.stop()
    return samples


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def paired(samples: dict[str, list[float]], top: str, bottom: str) -> float:
    """The median over rounds of top/bottom, each ratio taken within one round."""
    return statistics.median(a / b for a, b in zip(samples[top], samples[bottom], strict=True))


def report(
    samples: dict[str, list[float]], rounds: int, number: int, other_load: float | None
) -> None:
    print(
        f"cache hit, CPU ns per call: median [q1 .. q3] of {rounds} rounds, "
        f"each the best of 3 loops of {number:,} calls"
    )
    others = "?" if other_load is None else f"{other_load:.2f}"
    print(
        f"python {sys.version.split()[0]}; load average {load_average()}; "
        f"other processes used {others} CPUs meanwhile"
    )
    width = max(len(label) for label in samples)
    for label, values in samples.items():
        q1, q3 = quartiles(values)
        ratio = paired(samples, label, DICT)
        print(
            f"  {label:<{width}}  {statistics.median(values):8.1f}  [{q1:7.1f} .. {q3:7.1f}]"
            f"  {ratio:5.2f}x dict"
        )
    vs_dict = paired(samples, SWEPT, DICT)
    vs_ttl = paired(samples, TTLCACHE, LAZY)
    print()
    print("ratios: the median of the per-round ratios (both measured in the same round)")
    print(
        f"target: default hit <= 3x dict.get:              {vs_dict:5.2f}x  {verdict(vs_dict <= 3)}"
    )
    print(
        f"target: sweeper=false >= 8x faster than TTLCache: {vs_ttl:5.2f}x  {verdict(vs_ttl >= 8)}"
    )
    print(
        f"(for comparison: sweeper=false is {paired(samples, LAZY, DICT):.2f}x dict.get; "
        f"the default {paired(samples, TTLCACHE, SWEPT):.2f}x faster than TTLCache.get)"
    )


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=21, help="rounds per contender")
    parser.add_argument("--number", type=int, default=50_000, help="calls per loop")
    args = parser.parse_args()
    with OtherLoad() as other:
        samples = asyncio.run(measure(args.rounds, args.number))
    report(samples, args.rounds, args.number, other.cpus)


if __name__ == "__main__":
    main()
