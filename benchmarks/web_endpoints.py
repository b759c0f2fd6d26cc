"""What the web pattern's endpoints cost on a big tree, and what its call-latency hooks
cost a call.

Renders a service with `otpgen init --web` (the otpgen on PATH) into a temporary
directory, imports its `web` module, and starts a root Supervisor over a
DynamicSupervisor with N idle GenServers and the Web child (port 0). Then:

- each endpoint, GET R times from a thread: the median time, and the longest gap
  between two turns of a task that only sleeps 1 ms (what the rest of the service
  waits at worst while the endpoint runs);
- calls to an echo GenServer: microseconds a call with no hooks, with hooks that do
  nothing (the kernel's dispatch), with the web child's `CallLatency`, and with hooks
  feeding prometheus-client's own `Histogram.observe` (best of R rounds each).

Wall-clock figures on a shared machine: compare ratios within one run.

    python benchmarks/web_endpoints.py                    # 10,000 processes
    python benchmarks/web_endpoints.py --processes 1000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

ENDPOINTS = ("/healthz", "/readyz", "/metrics", "/observer/api/tree")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:
        body: bytes = response.read()
    return body


def render(base: Path) -> tuple[ModuleType, ModuleType]:
    """`otpgen init bench --web` in `base`: its kernel and its web module, imported."""
    otpgen = shutil.which("otpgen")
    assert otpgen is not None, "otpgen is not on PATH"
    subprocess.run([otpgen, "init", "bench", "--no-input", "--web"], cwd=base, check=True)
    sys.path.insert(0, str(base / "bench" / "src"))
    return importlib.import_module("bench.otp"), importlib.import_module("bench.web")


async def endpoints(otp: Any, web: Any, processes: int, rounds: int) -> None:
    class Idle(otp.GenServer):  # type: ignore[misc]
        """A process that only waits."""

    sessions = otp.ChildSpec("sessions", otp.DynamicSupervisor.start, type=otp.SUPERVISOR)
    root = await otp.Supervisor.start([sessions, web.Web.child_spec("127.0.0.1", 0)])
    dynamic = next(c.process for c in await root.which_children() if c.id == "sessions")
    for i in range(processes):
        await dynamic.start_child(otp.ChildSpec(i, Idle.start))
    url = web.Web.lookup().url
    loop = asyncio.get_running_loop()
    worst = 0.0

    async def probe() -> None:
        nonlocal worst
        while True:
            before = loop.time()
            await asyncio.sleep(0.001)
            worst = max(worst, loop.time() - before - 0.001)

    prober = asyncio.create_task(probe())
    try:
        for path in ENDPOINTS:
            times, worst, size = [], 0.0, 0
            for _ in range(rounds):
                started = time.perf_counter()
                body = await asyncio.to_thread(fetch, url + path)
                times.append(time.perf_counter() - started)
                size = len(body)
            print(
                f"{path:<20} median {statistics.median(times) * 1000:7.1f} ms  "
                f"longest stall {worst * 1000:6.1f} ms  {size:>9,} bytes"
            )
    finally:
        prober.cancel()
        await root.stop(otp.SHUTDOWN)


async def hooks(otp: Any, web: Any, rounds: int, calls: int = 20_000) -> None:
    import prometheus_client

    class Echo(otp.GenServer):  # type: ignore[misc]
        async def handle_call(self, request: object, caller: object) -> object:
            return request

    class Nothing:
        def on_call(self, process: object, request: object) -> object:
            return None

        def on_cast(self, process: object, msg: object) -> object:
            return None

        def on_handle(self, process: object, kind: str, msg: object, token: object) -> object:
            return None

        def on_handled(self, process: object, state: object, error: object) -> None:
            return None

    class Observe(web.CallLatency):  # type: ignore[misc]
        histogram = prometheus_client.Histogram(
            "call_seconds", "", ["process_class"], registry=prometheus_client.CollectorRegistry()
        )

        def on_handled(self, process: object, state: object, error: object) -> None:
            if type(state) is float:
                elapsed = time.perf_counter() - state
                self.histogram.labels(type(process).__qualname__).observe(elapsed)

    echo = await Echo.start()
    kinds = {
        "no hooks": lambda: None,
        "hooks doing nothing": Nothing,
        "web's CallLatency": web.CallLatency,
        "Histogram.observe": Observe,
    }
    best = dict.fromkeys(kinds, float("inf"))
    try:
        for _ in range(rounds):
            for label, make in kinds.items():
                otp.instrument(make())
                started = time.perf_counter()
                for i in range(calls):
                    await echo.call(i)
                best[label] = min(best[label], (time.perf_counter() - started) / calls)
    finally:
        otp.instrument(None)
        await echo.stop()
    for label, seconds in best.items():
        print(f"{label:<20} {seconds * 1e6:6.2f} us a call (best of {rounds})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="otpgen-web-bench-") as tmp:
        otp, web = render(Path(tmp))
        print(f"{args.processes:,} processes under one DynamicSupervisor")
        asyncio.run(endpoints(otp, web, args.processes, args.rounds))
        asyncio.run(hooks(otp, web, args.rounds))


if __name__ == "__main__":
    main()
