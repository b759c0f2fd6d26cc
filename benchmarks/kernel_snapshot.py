"""What `otp.snapshot` costs on a big tree, and how long `snapshot_async` blocks the loop.

Builds a root Supervisor over D DynamicSupervisors, each with N/D idle GenServers named
`via(registry, i)` (the session-worker shape), then times, for R rounds:

- `snapshot()`: the whole walk in one go (the loop is blocked all along), wall clock and
  this process's CPU time (which other processes' load inflates less);
- `await snapshot_async(chunk=C)`: total time, and the longest single step, measured as
  the longest gap between two turns of a task that only yields (what every other task
  waits at worst while the snapshot runs);
- `as_dict()` and `json.dumps` of it (what the web observer serves with `?limit=all`);
- `snapshot(limit=L)`: the top-L view (at most L children of each supervisor described,
  the others summed up), wall clock and CPU time, and the size of its JSON (what the web
  observer serves by default, with L=200).

Medians of the rounds, with min and max. Wall-clock figures: note the load (`uptime`).

    python benchmarks/kernel_snapshot.py                       # 100,000 processes
    python benchmarks/kernel_snapshot.py --processes 10000 --rounds 3 --limit 100
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "templates" / "kernel"))

import otp


class Idle(otp.GenServer):
    """A process that only waits."""


async def _build(processes: int, supervisors: int) -> otp.Supervisor:
    registry = otp.Registry(otp.UNIQUE, name="sessions")
    root = await otp.Supervisor.start(
        [otp.DynamicSupervisor.child_spec(name=f"pool{i}") for i in range(supervisors)],
        name="root",
    )
    pools = [otp.whereis(f"pool{i}") for i in range(supervisors)]
    for i in range(processes):
        pool = pools[i % supervisors]
        assert isinstance(pool, otp.DynamicSupervisor)
        await pool.start_child(Idle.child_spec(name=otp.via(registry, i)))
    return root


async def _longest_gap(work: Any) -> tuple[float, float]:
    """(total seconds of `await work`, longest gap between two turns of a yielding task)."""
    gaps: list[float] = []
    done = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = time.perf_counter()
    await work
    total = time.perf_counter() - start
    done = True
    await task
    return total, max(gaps)


def _row(label: str, values: list[float], unit: float = 1e3) -> str:
    scaled = [v * unit for v in values]
    return (
        f"| {label} | {statistics.median(scaled):,.1f} [{min(scaled):,.1f} .. {max(scaled):,.1f}] |"
    )


async def main(processes: int, supervisors: int, rounds: int, chunk: int, limit: int) -> None:
    started = time.perf_counter()
    root = await _build(processes, supervisors)
    built = time.perf_counter() - started
    gc.collect()
    sync: list[float] = []
    sync_cpu: list[float] = []
    total: list[float] = []
    step: list[float] = []
    to_dict: list[float] = []
    dumps: list[float] = []
    limited: list[float] = []
    limited_cpu: list[float] = []
    size = limited_size = shown = 0
    count = 0
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        top = otp.snapshot(limit=limit)
        limited.append(time.perf_counter() - t0)
        limited_cpu.append(time.process_time() - c0)
        shown = len(top.processes)
        limited_size = len(json.dumps(top.as_dict()))
        del top
        t0, c0 = time.perf_counter(), time.process_time()
        snap = otp.snapshot()
        sync.append(time.perf_counter() - t0)
        sync_cpu.append(time.process_time() - c0)
        count = len(snap.processes)
        seconds, gap = await _longest_gap(otp.snapshot_async(chunk=chunk))
        total.append(seconds)
        step.append(gap)
        t0 = time.perf_counter()
        as_dict = snap.as_dict()
        to_dict.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        size = len(json.dumps(as_dict))
        dumps.append(time.perf_counter() - t0)
        del snap, as_dict
    print(
        f"{count:,} processes in the snapshot ({processes:,} workers under {supervisors} "
        f"DynamicSupervisors, built in {built:.1f} s); {rounds} rounds; chunk={chunk}; "
        f"JSON {size / 1e6:.1f} MB; Python {sys.version.split()[0]}"
    )
    print(
        f"snapshot(limit={limit}): {shown:,} processes described, the rest summed up; "
        f"JSON {limited_size / 1e3:.1f} kB"
    )
    print("| what | ms, median [min .. max] |")
    print("| --- | --- |")
    print(_row("`snapshot()`", sync))
    print(_row("`snapshot()`, CPU time of this process", sync_cpu))
    print(_row(f"`await snapshot_async(chunk={chunk})`, total", total))
    print(_row("`snapshot_async`, longest single loop step", step))
    print(_row("`Snapshot.as_dict()`", to_dict))
    print(_row("`json.dumps(as_dict)`", dumps))
    print(_row(f"`snapshot(limit={limit})`", limited))
    print(_row(f"`snapshot(limit={limit})`, CPU time of this process", limited_cpu))
    print(
        f"per process: snapshot() {statistics.median(sync) / count * 1e6:.2f} us, "
        f"{statistics.median(sync_cpu) / count * 1e6:.2f} us of CPU"
    )
    await root.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=100_000)
    parser.add_argument("--supervisors", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.processes, args.supervisors, args.rounds, args.chunk, args.limit))
