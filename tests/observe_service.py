"""A small service on the kernel that serves its observer JSON, for `otpgen observe` tests.

Run as `python observe_service.py KERNEL_DIR`: it imports the kernel from KERNEL_DIR as `otp`,
starts a tree, and serves `otp.snapshot_async(limit=N)` at GET /observer/api/tree?limit=N
(`all`: no limit; 200 without one) on 127.0.0.1 (a port of the system's choosing, printed as
the first line of stdout). GET /crash makes the
"counter" worker crash (its supervisor restarts it); GET /block makes it wait in a callback
until GET /release, with 150 messages cast behind (its mailbox backs up). It stops when stdin
closes.

The tree:

    root Supervisor (one_for_one)
    ├── Counter "counter"
    └── DynamicSupervisor "users"
        ├── Session (alice)
        ├── Session (bob)
        └── Session (carol)
"""

import asyncio
import json
import sys
import urllib.parse
from typing import Any

sys.path.insert(0, sys.argv[1])

import otp

RELEASE = asyncio.Event()


class Counter(otp.GenServer):
    async def init(self, arg: Any) -> None:
        self.count = 0

    async def handle_cast(self, msg: Any) -> None:
        if msg == "crash":
            raise RuntimeError("crash on request")
        if msg == "block":
            await RELEASE.wait()
        self.count += 1


class Session(otp.GenServer):
    async def init(self, user: str) -> None:
        self.user = user


async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readline()
    while (await reader.readline()).strip():
        pass
    target = request.split()[1].decode() if len(request.split()) > 1 else "/"
    path, _, query = target.partition("?")
    status, body = "200 OK", b"{}"
    counter = otp.whereis("counter")
    if path == "/observer/api/tree":
        params = dict(urllib.parse.parse_qsl(query))
        asked = params.get("limit", "200")
        snapshot = await otp.snapshot_async(
            limit=None if asked == "all" else int(asked),
            by_handler_time=params.get("rank") == "handler_time",
        )
        body = json.dumps(snapshot.as_dict()).encode()
    elif path == "/crash" and isinstance(counter, Counter):
        counter.cast("crash")
    elif path == "/block" and isinstance(counter, Counter):
        RELEASE.clear()
        counter.cast("block")
        for _ in range(150):
            counter.cast("tick")
    elif path == "/release":
        RELEASE.set()
    else:
        status = "404 Not Found"
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
    writer.write(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    writer.write(body)
    await writer.drain()
    writer.close()


async def main() -> None:
    otp.observe(True)
    root = await otp.Supervisor.start(
        [
            Counter.child_spec(None, name="counter"),
            otp.DynamicSupervisor.child_spec(name="users"),
        ]
    )
    users = otp.whereis("users")
    assert isinstance(users, otp.DynamicSupervisor)
    for user in ("alice", "bob", "carol"):
        await users.start_child(Session.child_spec(user))
    server = await asyncio.start_server(respond, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until stdin closes
    server.close()
    await root.stop("shutdown")


if __name__ == "__main__":
    asyncio.run(main())
