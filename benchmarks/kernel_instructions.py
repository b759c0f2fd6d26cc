"""CPU instructions per call and per start, counted by valgrind: figures a busy machine
does not change.

Wall times on a shared machine swing with its load; the number of instructions a call
executes does not. This runs a small workload twice under `valgrind --tool=cachegrind`,
with N and 4N operations, and prints (instructions(4N) - instructions(N)) / 3N: the
interpreter's start-up, the imports and the set-up cancel out.

    python benchmarks/kernel_instructions.py                  # every workload
    python benchmarks/kernel_instructions.py otp:100 floor:100
    python benchmarks/kernel_instructions.py --kernel /path/to/other/kernel start

Workloads: `otp:C` and `floor:C` (C concurrent clients calling an echo server: the
kernel's GenServer with the default timeout, or `FloorServer` from kernel_call.py),
`none:C` (the kernel with timeout=None), `cast:B` (casts to a server that drops
them, B casts per turn of the loop), `step1:C`..`step3:C` (`SteppedFloor`), `start`
(DynamicSupervisor.start_child of a via-named GenServer, the target's workload),
`vstart` (`GenServer.start(name=via(registry, i))`, no supervisor), `gstart` (a bare
`GenServer.start()`), `tasks` (the start floor of kernel_memory.py: `loop.create_task()`
of a task awaiting a future, all of them run to their first await by one
`asyncio.sleep(0)`), `turn` (a task yielding its turn of the loop with a bare `yield`,
as a start does: what one loop iteration costs) and `spec`
(`Idle.child_spec(name=via(registry, i))` alone). The start workloads and `tasks` end
the process as soon as they are done (`os._exit`): as in kernel_memory.py, only the
starting is counted, not the teardown by asyncio.run. Needs valgrind on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import types
from collections.abc import Generator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT = ["otp:1", "floor:1", "otp:10", "floor:10", "otp:100", "floor:100", "start", "spec"]
CALLS = 2_000
STARTS = 1_000


async def _clients(call: Any, calls: int, clients: int) -> None:
    async def client(each: int) -> None:
        for i in range(each):
            await call(i)

    await asyncio.gather(*(client(calls // clients) for _ in range(clients)))


async def _workload(name: str, clients: int, n: int) -> None:
    import otp
    from kernel_call import Echo, FloorServer, SteppedFloor

    class Idle(otp.GenServer):
        """A process that only waits."""

    class Sink(otp.GenServer):
        """Takes casts and does nothing with them."""

        async def handle_cast(self, msg: Any) -> None:
            return None

        async def handle_call(self, request: Any, caller: otp.Caller) -> Any:
            return None

    if name in ("otp", "none"):
        server = await Echo.start()
        if name == "otp":
            await _clients(server.call, n, clients)
        else:
            await _clients(lambda i: server.call(i, None), n, clients)
        await server.stop()
    elif name == "floor" or name.startswith("step"):
        floor = FloorServer() if name == "floor" else SteppedFloor(int(name[4:]))
        await _clients(floor.call, n, clients)
        await floor.stop()
    elif name == "cast":
        sink = await Sink.start()
        for i in range(n):
            sink.cast(i)
            if i % clients == clients - 1:
                await asyncio.sleep(0)  # let the sink drain its mailbox
        await sink.call(None)  # every cast before it has been handled
        await sink.stop()
    elif name == "start":
        registry = otp.Registry(otp.UNIQUE, name="workers")
        sup = await otp.DynamicSupervisor.start()
        for i in range(n):
            await sup.start_child(Idle.child_spec(name=otp.via(registry, i)))
        os._exit(0)  # (not the teardown)
    elif name in ("vstart", "gstart"):
        registry = otp.Registry(otp.UNIQUE, name="workers")
        keep: list[object] = [None] * n  # (a pending task no one refers to would be collected)
        for i in range(n):
            keep[i] = await (
                Idle.start(name=otp.via(registry, i)) if name == "vstart" else Idle.start()
            )
        os._exit(0)
    elif name == "tasks":
        loop = asyncio.get_running_loop()
        keep = [loop.create_task(_idle(loop.create_future())) for _ in range(n)]
        await asyncio.sleep(0)  # every task runs to its first await
        del keep
        os._exit(0)
    elif name == "turn":
        for _ in range(n):
            await _next_turn()
    elif name == "spec":
        registry = otp.Registry(otp.UNIQUE, name="workers")
        for i in range(n):
            Idle.child_spec(name=otp.via(registry, i))
    else:
        raise SystemExit(f"unknown workload: {name}")


@types.coroutine
def _next_turn() -> Generator[None, None, None]:
    yield


async def _idle(future: asyncio.Future[None]) -> None:
    await future


def _child(workload: str, n: int) -> None:
    name, _, clients = workload.partition(":")
    asyncio.run(_workload(name, int(clients or 1), n))


def _instructions(kernel: str, workload: str, n: int) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([kernel, str(HERE)]))
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            os.path.realpath(sys.executable),
            __file__,
            "--child",
            workload,
            str(n),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=DEFAULT)
    parser.add_argument("--kernel", default=str(HERE.parent / "templates" / "kernel"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.workloads[0], int(args.workloads[1]))
        return
    for workload in args.workloads:
        n = CALLS if workload.partition(":")[2] else STARTS
        low = _instructions(args.kernel, workload, n)
        high = _instructions(args.kernel, workload, 4 * n)
        print(f"{workload:>12}  {(high - low) // (3 * n):>9,} instructions per operation")


if __name__ == "__main__":
    main()
