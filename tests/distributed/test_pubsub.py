"""pubsub with backend=redis across real OS processes: three nodes share one Redis; one
is killed with SIGKILL mid-run, and the server itself is killed and started again.

Each node is a small driver around the generated module (rendered by the installed
`otpgen`): a bridge and one subscriber to "news", printing what it receives and
broadcasting what it is told on stdin. What is checked: a broadcast reaches every node
once; the survivors of a kill -9 go on serving each other; after Redis comes back, the
bridges reconnect and subscribe again by themselves, and messages flow again between
every survivor.
"""

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import RedisServer

NODE = """\
import asyncio, json, sys

from shop import bus, otp


class Printer(otp.GenServer):
    async def init(self) -> None:
        bus.subscribe(self, "news")

    async def handle_info(self, msg: object) -> None:
        if isinstance(msg, bus.Broadcast):
            print(json.dumps(["got", msg.message]), flush=True)


async def main(url: str, prefix: str) -> None:
    tree = await otp.Supervisor.start(
        [bus.child_spec(url, prefix=prefix), Printer.child_spec()]
    )
    await bus.ready()
    print(json.dumps(["ready"]), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        bus.broadcast("news", json.loads(line))
    await tree.stop(otp.SHUTDOWN)


asyncio.run(main(*sys.argv[1:]))
"""


class Node:
    """One OS process running the driver; what it prints is read by a thread."""

    def __init__(self, project: Path, url: str, prefix: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(project / "src")}
        self.process = subprocess.Popen(
            [sys.executable, str(project / "node.py"), url, prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.lines: queue.Queue[list[object]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def send(self, message: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def next(self, timeout: float = 10.0) -> list[object]:
        return self.lines.get(timeout=timeout)

    def got(self, timeout: float = 10.0) -> object:
        kind, message = self.next(timeout)
        assert kind == "got"
        return message

    def got_past_probes(self) -> object:
        """The next message that is not a late probe."""
        while str(message := self.got()).startswith("probe "):
            pass
        return message

    def nothing_more(self) -> None:
        """Nothing else arrived (a duplicate would be here by now: the caller has seen a
        later message from the same broadcaster on the same node)."""
        assert self.lines.empty(), self.lines.get_nowait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service with the pubsub module rendered as `bus`, backend=redis."""
    otpgen = shutil.which("otpgen")
    assert otpgen is not None, "the otpgen console script is not installed"
    base = tmp_path_factory.mktemp("pubsub")
    for command in (["init", "shop", "--no-input"],):
        subprocess.run([otpgen, *command], cwd=base, check=True, capture_output=True)
    root = base / "shop"
    new = ["new", "pubsub", "bus", "--set", "backend=redis", "--no-input", "--no-wire"]
    subprocess.run([otpgen, *new], cwd=root, check=True, capture_output=True)
    (root / "node.py").write_text(NODE)
    return root


@pytest.fixture
def nodes(project: Path, redis_server: RedisServer) -> Iterator[list[Node]]:
    prefix = f"test-{uuid.uuid4().hex}:"
    started = [Node(project, redis_server.url, prefix) for _ in range(3)]
    try:
        for node in started:
            assert node.next(timeout=20.0) == ["ready"]
        yield started
    finally:
        for node in started:
            node.stop()


def test_a_broadcast_reaches_every_node_once_and_survivors_serve_on_after_a_kill(
    nodes: list[Node],
) -> None:
    first, second, third = nodes
    first.send("a")
    for node in nodes:
        assert node.got() == "a"
    third.process.send_signal(signal.SIGKILL)
    third.process.wait(timeout=10)
    second.send("b")
    second.send("c")
    for node in (first, second):
        assert [node.got(), node.got()] == ["b", "c"]  # in order, once each
        node.nothing_more()


def test_subscribers_receive_again_once_a_restarted_redis_is_back(
    nodes: list[Node], redis_server: RedisServer
) -> None:
    first, second, third = nodes
    redis_server.stop()
    first.send("while away")  # reaches the first node only: at most once
    assert first.got() == "while away"
    redis_server.start()
    # Each bridge notices the lost connection when it next reads, then reconnects with
    # backoff (<= 2 s between attempts): the first node probes until each other node has
    # heard a probe, so every reader is subscribed again.
    deadline = time.monotonic() + 15.0
    waiting = {second, third}
    probes = 0
    while waiting:
        assert time.monotonic() < deadline, "the nodes never heard each other again"
        probes += 1
        first.send(f"probe {probes}")
        assert first.got() == f"probe {probes}"
        for node in list(waiting):
            with contextlib.suppress(queue.Empty):
                assert str(node.got(timeout=0.2)).startswith("probe ")
                waiting.discard(node)
    for index, sender in enumerate(nodes):
        sender.send(f"from {index}")
        for node in nodes:
            assert node.got_past_probes() == f"from {index}"
    for node in nodes:
        node.nothing_more()
