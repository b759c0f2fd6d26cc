"""The session-worker pattern at scale: memory per idle session and the time to start them.

Renders the pattern with the installed `otpgen` into a fresh temporary project, then, for
each round, runs every measurement in a fresh subprocess that imports the rendered module:

- sessions: N users, each given a session by the pattern's own `get_or_start` (a
  GenServer registered by `via(REGISTRY, user_id)` under the pattern's DynamicSupervisor,
  its state loaded from a MemoryStore in `handle_continue`, its idle timer armed). The
  user id strings are made inside the measured span, so they are counted too.
- baseline: N bare `GenServer`s named `via(registry, i)` under a DynamicSupervisor, the
  kernel's floor for a per-user process, so the difference is what the pattern adds.

Memory per session is (RSS after - RSS before) / N, after `gc.collect()`, read from
/proc/self/statm. The target is the BEAM's figure for an idle process, 2.6 KB (2,662 B).
Times are medians over the rounds. Nothing is asserted: the table says whether each
target is met.

    python benchmarks/patterns_session_worker.py [--count 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_BYTES = 2_662  # the BEAM's idle process, 2.6 KB
PACKAGE = "bench"
MODULE = "sessions"
PYPROJECT = """\
[project]
name = "bench"
version = "0.0.0"
requires-python = ">=3.11"
"""


def _rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is the best getrusage offers (KiB on Linux)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def _sessions(count: int) -> dict[str, Any]:
    from bench import otp, sessions  # the rendered module: PYTHONPATH is the project's src

    store = sessions.MemoryStore()
    tree = await otp.Supervisor.start([sessions.child_spec(store, max_children=None)])
    gc.collect()
    rss_before = _rss()
    users = [f"user-{i:08d}" for i in range(count)]
    started = time.perf_counter()
    for user in users:
        await sessions.get_or_start(user)
    await asyncio.sleep(0)  # every session has run handle_continue: loaded, timer armed
    start_s = time.perf_counter() - started
    loaded = sum(1 for user in users if (s := sessions.lookup(user)) and s.data is not None)
    if loaded != count or sessions.count() != count:
        raise RuntimeError(f"expected {count} loaded sessions, got {loaded}")
    gc.collect()
    rss_after = _rss()
    started = time.perf_counter()
    await tree.stop(otp.SHUTDOWN)
    stop_s = time.perf_counter() - started
    if len(store.saved) != count:
        raise RuntimeError(f"expected {count} saved states, got {len(store.saved)}")
    return {"bytes": (rss_after - rss_before) / count, "start_s": start_s, "stop_s": stop_s}


async def _baseline(count: int) -> dict[str, Any]:
    from bench import otp

    class Idle(otp.GenServer):
        """A process that only waits."""

    registry = otp.Registry(otp.UNIQUE, name="baseline")
    sup = await otp.DynamicSupervisor.start()
    gc.collect()
    rss_before = _rss()
    started = time.perf_counter()
    for i in range(count):
        await sup.start_child(Idle.child_spec(name=otp.via(registry, i)))
    start_s = time.perf_counter() - started
    gc.collect()
    rss_after = _rss()
    started = time.perf_counter()
    await sup.stop(otp.SHUTDOWN)
    stop_s = time.perf_counter() - started
    return {"bytes": (rss_after - rss_before) / count, "start_s": start_s, "stop_s": stop_s}


def _child(mode: str, count: int) -> None:
    measure = _sessions if mode == "sessions" else _baseline
    result = asyncio.run(measure(count))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def _render(root: Path) -> Path:
    otpgen = shutil.which("otpgen")
    if otpgen is None:
        raise SystemExit("otpgen is not installed: pip install -e . first")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src" / PACKAGE).mkdir(parents=True)
    (root / "src" / PACKAGE / "__init__.py").write_text("")
    subprocess.run(
        [otpgen, "new", "session-worker", MODULE, "--no-input"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return root / "src"


def _run(src: Path, mode: str, count: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--count", str(count)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} measurement failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="sessions per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="fresh subprocesses per mode")
    parser.add_argument("--child", choices=["sessions", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.count)
        return

    count = args.count
    results: dict[str, list[dict[str, Any]]] = {"sessions": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-") as tmp:
        src = _render(Path(tmp))
        for _ in range(args.rounds):
            for mode in results:  # interleaved, so drift affects both alike
                results[mode].append(_run(src, mode, count))

    def median(mode: str, key: str) -> float:
        return float(statistics.median(r[key] for r in results[mode]))

    per_session = median("sessions", "bytes")
    baseline = median("baseline", "bytes")
    start_s = median("sessions", "start_s")
    rows = [
        ("RSS per idle session (session-worker)", f"{per_session:,.0f} B", f"<= {TARGET_BYTES} B"),
        ("RSS per bare GenServer + via(Registry)", f"{baseline:,.0f} B", ""),
        ("what the pattern adds per session", f"{per_session - baseline:,.0f} B", ""),
        (f"start {count:,} sessions (get_or_start)", f"{start_s:.2f} s", ""),
        ("  per session", f"{start_s / count * 1e6:.1f} us", ""),
        (f"start {count:,} bare GenServers", f"{median('baseline', 'start_s'):.2f} s", ""),
        (f"stop {count:,} sessions (each saves)", f"{median('sessions', 'stop_s'):.2f} s", ""),
    ]
    print(f"session-worker, {count:,} idle sessions, median of {args.rounds} rounds")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    width = max(len(name) for name, _, _ in rows)
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>12}  {target}".rstrip())
    met = "met" if per_session <= TARGET_BYTES else "NOT met"
    print(f"target: memory per session <= {TARGET_BYTES:,} B (the BEAM's 2.6 KB): {met}")


if __name__ == "__main__":
    main()
