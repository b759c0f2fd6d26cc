"""Memory per idle process, and the time to start and stop many of them.

The session-worker pattern runs one GenServer per user, named `via(registry, user_id)`
under a DynamicSupervisor, so the memory of an idle process bounds how many users a
service holds. Each measurement runs in a fresh subprocess: it imports the kernel,
collects garbage, reads its resident set size (RSS, from /proc/self/statm, else
getrusage's peak), starts N idle processes one after another as a service would, collects
again and reads RSS again: (RSS after - RSS before) / N is the figure. A separate
subprocess repeats it under tracemalloc, whose figure counts only Python allocations
(no allocator slack) and names the lines that allocate.

Four kinds of process, from the floor up, so the difference between two rows is what a
layer costs:

- task: a bare asyncio task awaiting a future, the least a process can be in asyncio;
- genserver: a bare `GenServer.start()`;
- registry: a GenServer started with `name=via(registry, i)` (UNIQUE keys);
- dynsup: the same, started by `DynamicSupervisor.start_child` (the target figure).

Also timed: starting the N processes (wall clock, and the CPU time of the measuring
process, which the host's other work does not inflate), and the supervisor stopping them
all.
"""

from __future__ import annotations

import asyncio
import gc
import json
import linecache
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import otp
from harness import Config, Derived, Group, Target, kernel_env

MODES = ("dynsup", "registry", "genserver", "task")
LABELS = {
    "dynsup": "GenServer + via(Registry) under DynamicSupervisor",
    "registry": "GenServer + via(Registry), no supervisor",
    "genserver": "bare GenServer",
    "task": "floor: idle asyncio task awaiting a future",
}
TARGET_BYTES = 1_600
TARGET_START_S = 3.0


class Idle(otp.GenServer):
    """A process that only waits."""


async def _idle(future: asyncio.Future[None]) -> None:
    await future


def _rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is the best getrusage offers (KiB on Linux/BSD)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _site(frame: tracemalloc.Frame) -> str:
    source = linecache.getline(frame.filename, frame.lineno).strip()
    return f"{Path(frame.filename).name}:{frame.lineno}  {source}"


async def _measure(mode: str, count: int, trace: bool) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    keep: list[object] = [None] * count  # allocated before the first reading
    registry = otp.Registry(otp.UNIQUE, name="workers")
    sup = await otp.DynamicSupervisor.start() if mode == "dynsup" else None
    gc.collect()
    if trace:
        before_snapshot = tracemalloc.take_snapshot()
        traced_before = tracemalloc.get_traced_memory()[0]
    rss_before = _rss()

    start = time.perf_counter()
    start_cpu = time.process_time()
    if mode == "task":
        for i in range(count):
            keep[i] = loop.create_task(_idle(loop.create_future()))
        await asyncio.sleep(0)  # every task runs to its first await
    elif mode == "genserver":
        for i in range(count):
            keep[i] = await Idle.start()
    elif mode == "registry":
        for i in range(count):
            keep[i] = await Idle.start(name=otp.via(registry, i))
    else:
        assert sup is not None
        for i in range(count):
            await sup.start_child(Idle.child_spec(name=otp.via(registry, i)))
    start_s = time.perf_counter() - start
    start_cpu_s = time.process_time() - start_cpu

    gc.collect()
    rss_after = _rss()
    result: dict[str, Any] = {
        "mode": mode,
        "count": count,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "start_s": start_s,
        "start_cpu_s": start_cpu_s,
    }
    if trace:
        result["traced"] = tracemalloc.get_traced_memory()[0] - traced_before
        diffs = tracemalloc.take_snapshot().compare_to(before_snapshot, "lineno")
        result["sites"] = [
            [_site(diff.traceback[0]), diff.size_diff / count]
            for diff in diffs[:15]
            if diff.size_diff / count >= 4
        ]
    if mode in ("registry", "dynsup") and registry.count() != count:
        raise RuntimeError(f"expected {count} registered processes, got {registry.count()}")
    if sup is not None:
        start = time.perf_counter()
        await sup.stop()
        result["stop_s"] = time.perf_counter() - start
        if registry.count():
            raise RuntimeError(f"{registry.count()} processes still registered after stop")
    return result


def child_main(argv: list[str]) -> int:
    """`kernel_memory.py MODE COUNT [trace]`: one measurement, printed as JSON."""
    mode, count, trace = argv[0], int(argv[1]), argv[2:] == ["trace"]
    if trace:
        tracemalloc.start()
    result = asyncio.run(_measure(mode, count, trace))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # skip tearing down the processes still running: nothing is measured there


def _child(mode: str, count: int, trace: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, mode, str(count)] + (["trace"] if trace else [])
    done = subprocess.run(args, env=kernel_env(), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} measurement failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(config: Config) -> Group:
    count = config.workers
    group = Group(f"Memory per idle process, and start/stop times ({count:,} processes)")
    rss: dict[str, list[float]] = {mode: [] for mode in MODES}
    traced: dict[str, list[float]] = {mode: [] for mode in MODES}
    start_s: dict[str, list[float]] = {mode: [] for mode in MODES}
    start_cpu_s: dict[str, list[float]] = {mode: [] for mode in MODES}
    stop_s: list[float] = []
    sites: list[list[Any]] = []

    for _ in range(config.memory_rounds):
        for mode in MODES:  # interleaved, so drift affects every mode alike
            result = _child(mode, count, trace=False)
            rss[mode].append((result["rss_after"] - result["rss_before"]) / count)
            start_s[mode].append(result["start_s"])
            start_cpu_s[mode].append(result["start_cpu_s"])
            if "stop_s" in result:
                stop_s.append(result["stop_s"])
    for _ in range(config.tracemalloc_rounds):
        for mode in MODES:
            result = _child(mode, count, trace=True)
            traced[mode].append(result["traced"] / count)
            if mode == "dynsup":
                sites = result["sites"]

    rss_row = {mode: f"RSS per process: {LABELS[mode]}" for mode in MODES}
    traced_row = {mode: f"tracemalloc per process: {LABELS[mode]}" for mode in MODES}
    for mode in MODES:
        group.add(rss_row[mode], "B", rss[mode])
    for mode in MODES:
        group.add(traced_row[mode], "B", traced[mode])
    start_row = f"start {count:,}: DynamicSupervisor.start_child, via(Registry)"
    group.add(start_row, "s", start_s["dynsup"])
    group.add(f"start {count:,}: GenServer.start(name=via(Registry))", "s", start_s["registry"])
    group.add(f"start {count:,}: bare GenServer.start()", "s", start_s["genserver"])
    group.add(f"start {count:,}: floor, loop.create_task()", "s", start_s["task"])
    # CPU time of the measuring process: the starts never wait on anything, so this is
    # the wall clock less what the machine gave to others meanwhile (on a shared VM, the
    # host's other guests too, which no load average shows).
    start_cpu_row = f"start {count:,} under DynamicSupervisor, CPU time"
    floor_cpu_row = f"start {count:,}: floor, CPU time"
    group.add(start_cpu_row, "s", start_cpu_s["dynsup"])
    group.add(floor_cpu_row, "s", start_cpu_s["task"])
    group.add(f"stop {count:,}: DynamicSupervisor.stop()", "s", stop_s)

    def median(row: str) -> float:
        return group.row(row).stats.median

    group.derived.append(
        Derived(
            "RSS per process, DynamicSupervisor + Registry",
            median(rss_row["dynsup"]),
            "B",
            Target("<=", TARGET_BYTES),
        )
    )
    group.derived.append(
        Derived(
            f"start {count:,} under DynamicSupervisor",
            median(start_row),
            "s",
            Target("<=", TARGET_START_S * count / 100_000),
        )
    )
    layers = (
        ("dynsup", "registry", "supervision (ChildSpec, child entry)"),
        ("registry", "genserver", "Registry entry (the via name is its key)"),
        ("genserver", "task", "GenServer over a bare task"),
    )
    for kind, rows in (("RSS", rss_row), ("tracemalloc", traced_row)):
        for upper, lower, what in layers:
            value = median(rows[upper]) - median(rows[lower])
            group.derived.append(Derived(f"{kind}: {what}", value, "B"))
    group.ratio(
        "RSS: DynamicSupervisor + Registry / floor task", rss_row["dynsup"], rss_row["task"]
    )
    group.ratio(
        "start: DynamicSupervisor + Registry / floor task",
        start_row,
        f"start {count:,}: floor, loop.create_task()",
        Target("<=", 2.5),
    )
    group.ratio(
        "start, CPU time: DynamicSupervisor + Registry / floor task",
        start_cpu_row,
        floor_cpu_row,
        Target("<=", 2.5),
    )
    if sites:
        group.notes.append(
            "tracemalloc, bytes per process by allocating line (dynsup): "
            + "; ".join(f"{size:.0f} B at {site}" for site, size in sites)
        )
    return group


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:]))
