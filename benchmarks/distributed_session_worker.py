"""The session-worker pattern on Redis: a call to a local session beside a forwarded one,
and the time a dead node's users take to be served again.

Renders the pattern with this checkout's otpgen (`--set backend=redis`) into a fresh
temporary project. This process is one node; a second node runs in a subprocess:

- local: `get(user, key)` for a user whose session runs on this node (a Registry look-up
  and a GenServer call; Redis is not touched).
- forwarded: `get(user, key)` for a user whose session runs on the other node: a look-up
  of the lease in Redis, a publish to the owner's channel, the owner's local call, and
  the reply published back.
- floor: the least any request/reply over Redis pub/sub costs here: redis-py publishes
  on a channel, the other process's redis-py subscriber publishes it back, this one's
  subscriber receives it (two hops through Redis, no look-up, no session).
- takeover: a third node owns a user (state saved), and is killed with SIGKILL; the time
  from the kill until this node's `get` for that user returns (it waits for the lease to
  run out, takes it, loads the saved state). Reported beside the lease time.

Each call is timed on its own; figures are medians (and quartiles) over every call of
every round, and the forwarded/local ratio is a ratio of those medians from one run.
Nothing is asserted.

    python benchmarks/distributed_session_worker.py [--calls 2000] [--rounds 3]
        [--takeovers 5] [--lease-time 1.0] [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from harness import load_average, otpgen_command

PYPROJECT = """\
[project]
name = "bench"
version = "0.0.0"
requires-python = ">=3.11"
"""

OTHER_NODE = """\
import asyncio, sys

from bench import otp, sessions


async def main() -> None:
    url, prefix, lease_time, users = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
    spec = sessions.child_spec(redis_url=url, prefix=prefix, lease_time=lease_time)
    tree = await otp.Supervisor.start([spec])
    for user in users:
        await sessions.put(user, "k", "v")
        await sessions.stop(user)  # saved
        await sessions.put(user, "k", "v")  # and running here again
    client = sessions.supervisor().client

    async def echo() -> None:  # the floor: every message on <prefix>echo, published back
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(prefix + "echo")
            print("ready", flush=True)
            async for message in pubsub.listen():
                await client.publish(prefix + "echoed", message["data"])

    echoing = asyncio.create_task(echo())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    echoing.cancel()
    await tree.stop(otp.SHUTDOWN)


asyncio.run(main())
"""


def render(root: Path) -> Path:
    otpgen, env = otpgen_command()
    (root / "src" / "bench").mkdir(parents=True)
    (root / "src" / "bench" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(PYPROJECT)
    command = [*otpgen, "new", "session-worker", "sessions", "--no-input", "--no-wire"]
    subprocess.run(
        [*command, "--set", "backend=redis"], cwd=root, env=env, check=True, capture_output=True
    )
    (root / "other_node.py").write_text(OTHER_NODE)
    return root


async def start_node(
    root: Path, url: str, prefix: str, lease_time: float, users: list[str]
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(root / "other_node.py"),
        url,
        prefix,
        str(lease_time),
        *users,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await process.stdout.readline()
    if line.strip() != b"ready":
        raise RuntimeError(f"the other node did not start: {line!r}")
    return process


async def stop_node(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        assert process.stdin is not None
        process.stdin.close()
    await process.wait()


def spread(samples: list[float]) -> dict[str, float]:
    quartiles = statistics.quantiles(samples, n=4)
    return {
        "median": statistics.median(samples),
        "q1": quartiles[0],
        "q3": quartiles[2],
        "min": min(samples),
        "max": max(samples),
    }


async def bench(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from bench import otp, sessions  # the rendered module: sys.path has the project's src

    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    lease = args.lease_time
    spec = sessions.child_spec(redis_url=args.redis_url, prefix=prefix, lease_time=lease)
    tree = await otp.Supervisor.start([spec])
    other = await start_node(root, args.redis_url, prefix, lease, ["remote"])
    local: list[float] = []
    forwarded: list[float] = []
    floor: list[float] = []
    client = sessions.supervisor().client
    takeover: list[float] = []
    try:
        await sessions.put("local", "k", "v")
        assert sessions.lookup("local") is not None
        assert sessions.lookup("remote") is None  # its session runs on the other node
        for _ in range(args.rounds):
            for user, samples in (("local", local), ("remote", forwarded)):
                for _ in range(100):  # warm up
                    await sessions.get(user, "k")
                for _ in range(args.calls):
                    started = time.perf_counter()
                    await sessions.get(user, "k")
                    samples.append(time.perf_counter() - started)
        async with client.pubsub(ignore_subscribe_messages=True) as echoed:
            await echoed.subscribe(prefix + "echoed")
            messages = echoed.listen()
            for call in range(args.calls * args.rounds):
                started = time.perf_counter()
                await client.publish(prefix + "echo", str(call))
                await anext(messages)
                floor.append(time.perf_counter() - started)
        for number in range(args.takeovers):
            user = f"takeover-{number}"
            owner = await start_node(root, args.redis_url, prefix, lease, [user])
            owner.kill()
            killed = time.perf_counter()
            value = await sessions.get(user, "k")
            takeover.append(time.perf_counter() - killed)
            assert value == "v"  # the saved state, loaded here
            assert sessions.lookup(user) is not None
            await owner.wait()
    finally:
        await stop_node(other)
        await tree.stop(otp.SHUTDOWN)
        from redis.asyncio import Redis

        client = Redis.from_url(args.redis_url)
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    return {
        "local": spread(local),
        "forwarded": spread(forwarded),
        "floor": spread(floor),
        "takeover": spread(takeover),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--takeovers", type=int, default=5)
    parser.add_argument("--lease-time", type=float, default=1.0)
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    root = render(Path(tempfile.mkdtemp(prefix="otpgen-bench-")))
    sys.path.insert(0, str(root / "src"))
    try:
        result = asyncio.run(bench(args, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"session-worker on Redis ({args.redis_url}), load average {load_average()}")
    for what, label in (("local", "get"), ("forwarded", "get"), ("floor", "echo")):
        row = result[what]
        print(
            f"  {what:9} {label}: median {row['median'] * 1e6:8.1f} us "
            f"(q1 {row['q1'] * 1e6:.1f}, q3 {row['q3'] * 1e6:.1f}), "
            f"{args.calls * args.rounds} calls"
        )
    ratio = result["forwarded"]["median"] / result["local"]["median"]
    print(f"  forwarded / local: {ratio:.1f}x the time of a local call")
    ratio = result["forwarded"]["median"] / result["floor"]["median"]
    print(f"  forwarded / floor: {ratio:.2f}x a bare pub/sub round trip")
    row = result["takeover"]
    print(
        f"  takeover after kill -9: median {row['median']:.3f} s "
        f"(min {row['min']:.3f}, max {row['max']:.3f}) with a lease time of "
        f"{args.lease_time} s, {args.takeovers} kills"
    )


if __name__ == "__main__":
    main()
