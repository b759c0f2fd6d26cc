"""`otpgen observe URL`: a running service's tree drawn from the observer JSON.

A stdlib HTTP server on 127.0.0.1 stands in for the service's web child: it serves contract
documents (docs/cli.md, "otpgen observe") that the tests change between requests. The live
view runs on a pseudo-terminal, as a user's terminal would drive it: keys typed, SIGINT sent.
Last, a small service on this checkout's kernel (tests/observe_service.py) serves the
kernel's own snapshot, so the contract is checked from both ends.
"""

import codecs
import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from clikit import otpgen, otpgen_exe
from jsonschema import Draft202012Validator

from otpgen import _observe

TAKEN_AT = 1764650000.0


def process(id: str, parent: str | None, name: str | None, **fields: Any) -> dict[str, Any]:
    """One contract entry: a running worker unless `fields` say otherwise."""
    entry: dict[str, Any] = {
        "id": id,
        "parent": parent,
        "name": name,
        "child_id": name,
        "class": (name or "anonymous").title(),
        "kind": "worker",
        "status": "running",
        "strategy": None,
        "restarts": 0,
        "intensity": None,
        "mailbox": 0,
        "oldest_age": None,
        "handler_time": 0.0,
        "current": None,
        "uptime": 12.5,
        "memory": 1480,
    }
    entry.update(fields)
    return entry


def supervisor(id: str, parent: str | None, name: str, **fields: Any) -> dict[str, Any]:
    intensity = {"restarts": 0, "max_restarts": 3, "max_seconds": 5.0}
    return process(
        id,
        parent,
        name,
        kind="supervisor",
        strategy="one_for_one",
        intensity=intensity,
        **fields,
    )


def tree(*, jobs_restarts: int = 0) -> dict[str, Any]:
    """app (supervisor) > inventory, workers (dynamic) > [job-a, job-b], cache; plus a root
    not under app (an unsupervised named process)."""
    return {
        "version": 1,
        "taken_at": TAKEN_AT,
        "processes": [
            supervisor("p1", None, "app", memory=4096),
            process("p2", "p1", "inventory", mailbox=3, handler_time=0.5),
            process("p3", "p1", "workers", kind="dynamic", handler_time=0.01),
            process("p4", "p3", "job-a", mailbox=1, handler_time=2.0, restarts=jobs_restarts),
            process("p5", "p3", "job-b", mailbox=250, oldest_age=3.0, current="handle_cast"),
            process("p1/cache", "p1", "cache", status="restarting", restarts=4, uptime=0.0),
            process("p9", None, "loner", handler_time=0.2, memory=3 * 1024 * 1024),
        ],
    }


class Service:
    """The observer endpoint on 127.0.0.1: each GET of /observer/api/tree answers the next
    of `documents` (the last one again once they run out), or `status` if it is set."""

    def __init__(self, documents: list[Any], port: int = 0) -> None:
        self.documents = list(documents)
        self.status: int | None = None
        self.requests = 0
        self.queries: list[str] = []  # the query string of each request for the tree
        self.hold: threading.Event | None = None  # set: requests wait until it is set
        self.held = threading.Event()  # a request is being held
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if owner.hold is not None:  # a service that does not answer
                    owner.held.set()
                    owner.hold.wait()
                    return
                path, _, query = self.path.partition("?")
                if path != "/observer/api/tree" or owner.status is not None:
                    self.send_error(owner.status or 404)
                    return
                owner.requests += 1
                owner.queries.append(query)
                document = owner.documents[0]
                if len(owner.documents) > 1:
                    owner.documents.pop(0)
                body = document if isinstance(document, bytes) else json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, document: Any) -> None:
        self.documents = [document]

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def service() -> Iterator[Service]:
    running = Service([tree()])
    yield running
    running.stop()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def names(stdout: str) -> list[str]:
    """The process column of plain `--once` output, guides stripped."""
    lines = stdout.splitlines()[2:]  # the header, the column titles
    return [line.lstrip("├└│─ ").split()[0] for line in lines]


# --once


def test_once_prints_the_tree_parents_first_children_indented(service: Service) -> None:
    result = otpgen("observe", service.url, "--once")
    assert (result.returncode, result.stderr) == (0, "")
    assert names(result.stdout) == [
        "app",
        "inventory",
        "workers",
        "job-a",
        "job-b",
        "cache",
        "loner",
    ]
    lines = result.stdout.splitlines()
    assert lines[1].split() == list(_observe.COLUMNS)
    assert lines[2].startswith("app ")
    assert lines[3].startswith("├─ inventory ")
    assert lines[5].startswith("│  ├─ job-a ")
    assert lines[6].startswith("│  └─ job-b ")
    assert lines[7].startswith("└─ cache ")
    assert lines[8].startswith("loner ")
    header = lines[0]
    assert f"127.0.0.1:{service.port}" in header
    assert "7 processes" in header
    assert "mailbox 254" in header
    assert "restarts 4" in header
    assert "1 restarting" in header
    assert "1 backlogged" in header
    # memory: 4096 + 3 MiB + 5 x 1480 bytes, in binary units
    assert "memory 3.0 MiB" in header


def test_once_shows_each_column_in_human_units(service: Service) -> None:
    lines = otpgen("observe", service.url, "--once").stdout.splitlines()
    job_b = next(line for line in lines if "job-b" in line).lstrip("├└│─ ").split()
    figures = ["0", "250", "3.00s", "0s", "handle_cast", "12.5s", "1.4", "KiB"]
    assert job_b == ["job-b", "worker", "running", *figures]
    cache = next(line for line in lines if "cache" in line).lstrip("├└│─ ").split()
    assert cache[:5] == ["cache", "worker", "restarting", "4", "0"]


def test_sort_orders_siblings_and_keeps_the_tree(service: Service) -> None:
    by_mailbox = otpgen("observe", service.url, "--once", "--sort", "mailbox")
    assert by_mailbox.returncode == 0, by_mailbox.stderr
    # app's children by their own mailbox (inventory 3, workers 0, cache 0: ties keep the
    # start order); job-b (250) before job-a (1), both still under workers.
    assert names(by_mailbox.stdout) == [
        "app",
        "inventory",
        "workers",
        "job-b",
        "job-a",
        "cache",
        "loner",
    ]
    # the roots are siblings too: loner (0.2 s) before app (0 s)
    by_handler = otpgen("observe", service.url, "--once", "--sort", "handler_time")
    assert names(by_handler.stdout) == [
        "loner",
        "app",
        "inventory",
        "workers",
        "job-a",
        "job-b",
        "cache",
    ]
    by_name = otpgen("observe", service.url, "--once", "--sort", "name")
    assert names(by_name.stdout) == [
        "app",
        "cache",
        "inventory",
        "workers",
        "job-a",
        "job-b",
        "loner",
    ]
    by_restarts = otpgen("observe", service.url, "--once", "--sort", "restarts")
    assert names(by_restarts.stdout)[1] == "cache"


def test_flat_sort_orders_the_whole_list(service: Service) -> None:
    result = otpgen("observe", service.url, "--once", "--flat", "--sort", "handler_time")
    assert result.returncode == 0, result.stderr
    assert names(result.stdout) == [
        "job-a",
        "inventory",
        "loner",
        "workers",
        "app",
        "job-b",
        "cache",
    ]
    assert "─" not in result.stdout  # no tree guides in a flat list
    unsorted = otpgen("observe", service.url, "--once", "--flat")
    assert names(unsorted.stdout) == [p["name"] for p in tree()["processes"]]


def test_each_poll_shows_the_snapshot_served_then(service: Service) -> None:
    service.documents = [tree(jobs_restarts=1), tree(jobs_restarts=2)]
    first = otpgen("observe", service.url, "--once").stdout
    second = otpgen("observe", service.url, "--once").stdout
    assert "restarts 5" in first.splitlines()[0]
    assert "restarts 6" in second.splitlines()[0]
    assert service.requests == 2


@pytest.mark.parametrize(
    "suffix", ["", "/", "/observer", "/observer/", "/observer/api/tree", "/observer/api/tree/"]
)
def test_the_url_may_be_the_base_the_page_or_the_json(service: Service, suffix: str) -> None:
    result = otpgen("observe", service.url + suffix, "--once")
    assert result.returncode == 0, result.stderr
    assert "job-b" in result.stdout


def test_a_path_prefix_is_kept() -> None:
    assert (
        _observe.tree_url("https://example.org/shop/")
        == "https://example.org/shop/observer/api/tree?limit=200"
    )
    assert (
        _observe.tree_url("http://[::1]:8000?x=1")
        == "http://[::1]:8000/observer/api/tree?x=1&limit=200"
    )


def test_limit_is_asked_of_the_service(service: Service) -> None:
    for given, asked in [
        ((), "limit=200"),
        (("--limit", "7"), "limit=7"),
        (("--limit", "all"), "limit=all"),
    ]:
        result = otpgen("observe", service.url + "/observer/api/tree?limit=3", "--once", *given)
        assert result.returncode == 0, result.stderr
        assert service.queries[-1] == asked  # (--limit wins over the URL's)
    for bad in ("-1", "x", "1.5", ""):
        result = otpgen("observe", service.url, "--once", "--limit", bad)
        assert result.returncode == 2
        assert result.stderr == (
            f"error: expected --limit to be a number >= 0 or 'all', got: {bad!r}\n"
        )


def test_sorting_by_handler_time_asks_the_service_for_the_busiest(service: Service) -> None:
    result = otpgen("observe", service.url, "--once", "--sort", "handler_time")
    assert result.returncode == 0, result.stderr
    assert service.queries[-1] == "limit=200&rank=handler_time"
    result = otpgen("observe", service.url + "/observer/api/tree?rank=handler_time", "--once")
    assert result.returncode == 0, result.stderr
    assert service.queries[-1] == "limit=200"  # not sorted by it: not asked for


def test_ranked_adds_or_drops_the_rank_of_a_url() -> None:
    url = "http://h/observer/api/tree?limit=5"
    assert _observe.ranked(url, "handler_time") == url + "&rank=handler_time"
    assert _observe.ranked(url + "&rank=handler_time", "mailbox") == url
    assert _observe.ranked(url + "&rank=handler_time", "handler_time") == url + "&rank=handler_time"
    assert _observe.ranked(url, None) == url


def summarised() -> dict[str, Any]:
    """What a service asked for 1 or 2 children of each supervisor may answer: app shows 2
    of its 3 (cache, restarting, is left out), workers 1 of its 11."""
    return {
        "version": 1,
        "taken_at": TAKEN_AT,
        "processes": [
            supervisor("p1", None, "app", memory=4096),
            process("p2", "p1", "inventory", mailbox=3, handler_time=0.5),
            process("p3", "p1", "workers", kind="dynamic", handler_time=0.01),
            process("p5", "p3", "job-b", mailbox=250, oldest_age=3.0, current="handle_cast"),
            process("p9", None, "loner", handler_time=0.2, memory=3 * 1024 * 1024),
        ],
        "summaries": {
            "p1": {
                "children": 3, "shown": 2, "mailbox": 3, "backlogged": 1, "restarting": 1,
                "restarts": 4, "largest_mailbox": 3, "starting": 0, "stopping": 0,
                "supervisors": 0, "newer": 1,
            },
            "p3": {
                "children": 11, "shown": 1, "mailbox": 1262, "backlogged": 4,
                "restarting": 0, "restarts": 2,
            },
        },
    }  # fmt: skip


def test_summaries_are_rows_under_their_supervisor_and_count_in_the_totals(
    service: Service,
) -> None:
    service.serve(summarised())
    result = otpgen("observe", service.url, "--once", "--limit", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "16 processes (5 shown)" in lines[0]  # and 1 + 10 left out
    assert "mailbox 1265" in lines[0]
    assert "restarts 6" in lines[0]
    assert "1 restarting" in lines[0]
    width = lines[1].index("kind")  # the process column
    rows = [line[:width].rstrip() for line in lines[2:]]
    assert rows == [
        "app",
        "├─ inventory",
        "├─ workers",
        "│  ├─ job-b",
        "│  └─ + 10 more: 1,012 messages waiting in 3, 0 restarting",
        "└─ + 1 more: 0 messages waiting in 0, 1 restarting",
        "loner",
    ]
    flat = otpgen("observe", service.url, "--once", "--flat", "--sort", "mailbox").stdout
    assert [line.rstrip() for line in flat.splitlines()[-2:]] == [
        "+ 1 more: 0 messages waiting in 0, 1 restarting",
        "+ 10 more: 1,012 messages waiting in 3, 0 restarting",
    ]
    data = json.loads(otpgen("observe", service.url, "--once", "--format", "json").stdout)
    Draft202012Validator(observe_schema()).validate(data)
    assert data["summaries"]["p3"]["children"] == 11
    assert "newer" not in data["summaries"]["p1"]  # keys it does not know are dropped
    assert (data["totals"]["processes"], data["totals"]["hidden"]) == (16, 11)
    assert [p["name"] for p in data["processes"]] == [
        "app",
        "inventory",
        "workers",
        "job-b",
        "loner",
    ]


def test_a_service_without_summaries_reads_as_one_with_none(service: Service) -> None:
    data = json.loads(otpgen("observe", service.url, "--once", "--format", "json").stdout)
    assert "summaries" not in tree()
    assert data["summaries"] == {}
    assert data["totals"]["hidden"] == 0


# --format json


def observe_schema() -> dict[str, Any]:
    text = resources.files("otpgen").joinpath("schemas", "observe.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def test_json_follows_its_schema_in_the_order_shown(service: Service) -> None:
    result = otpgen("observe", service.url, "--once", "--format", "json", "--sort", "mailbox")
    assert (result.returncode, result.stderr) == (0, "")
    data = json.loads(result.stdout)
    Draft202012Validator(observe_schema()).validate(data)
    assert data["url"] == f"{service.url}/observer/api/tree?limit=200"
    assert data["taken_at"] == TAKEN_AT
    assert data["totals"] == {
        "processes": 7,
        "hidden": 0,
        "mailbox": 254,
        "restarts": 4,
        "memory": 4096 + 3 * 1024 * 1024 + 5 * 1480,
        "restarting": 1,
        "backlogged": 1,
    }
    shown = [(p["name"], p["depth"], p["backlogged"]) for p in data["processes"]]
    assert shown == [
        ("app", 0, False),
        ("inventory", 1, False),
        ("workers", 1, False),
        ("job-b", 2, True),
        ("job-a", 2, False),
        ("cache", 1, False),
        ("loner", 0, False),
    ]


def test_the_json_schema_rejects_what_it_does_not_describe(service: Service) -> None:
    validator = Draft202012Validator(observe_schema())
    Draft202012Validator.check_schema(observe_schema())
    data = json.loads(otpgen("observe", service.url, "--once", "--format", "json").stdout)
    assert validator.is_valid(data)
    assert not validator.is_valid({**data, "extra": 1})
    del data["processes"][0]["mailbox"]
    assert not validator.is_valid(data)


def test_json_needs_once(service: Service) -> None:
    result = otpgen("observe", service.url, "--format", "json")
    assert result.returncode == 2
    assert result.stderr == "error: --format json prints one snapshot: add --once\n"


# Errors


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/", "expected an http:// or https:// URL, got 'ftp://127.0.0.1/'"),
        ("localhost:8000", "no scheme in 'localhost:8000': did you mean 'http://localhost:8000'?"),
        ("127.0.0.1", "no scheme in '127.0.0.1': did you mean 'http://127.0.0.1'?"),
        ("http:///observer", "no host in the URL 'http:///observer'"),
        ("http://127.0.0.1:port", "not a URL: 'http://127.0.0.1:port'"),
    ],
)
def test_a_bad_url_is_one_line_and_exit_2(url: str, message: str) -> None:
    result = otpgen("observe", url, "--once")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {message}")
    assert result.stderr.count("\n") == 1


def test_an_unreachable_service_is_one_line_and_exit_1_with_once() -> None:
    port = free_port()
    result = otpgen("observe", f"http://127.0.0.1:{port}", "--once")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"error: cannot reach http://127.0.0.1:{port}/observer/api/tree?limit=200: "
    )
    assert result.stderr.count("\n") == 1


def test_a_service_without_the_observer_is_exit_1_naming_the_status(service: Service) -> None:
    service.status = 404
    result = otpgen("observe", service.url, "--once")
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: {service.url}/observer/api/tree?limit=200 answered 404 "
    )
    assert "is the observer mounted?" in result.stderr
    assert result.stderr.count("\n") == 1


def _without(key: str) -> dict[str, Any]:
    document = tree()
    del document["processes"][2][key]
    return document


@pytest.mark.parametrize(
    ("document", "what"),
    [
        (b"<html>hello</html>", "the answer is not JSON"),
        ([], "expected a JSON object, got an array"),
        ({**tree(), "version": 2}, "version is 2, this otpgen reads 1"),
        ({"version": 1, "taken_at": 0}, "no 'processes' key"),
        ({"taken_at": 0, "processes": []}, "no 'version' key"),
        (_without("mailbox"), "processes[2] (id 'p3') has no 'mailbox'"),
        (
            {**tree(), "processes": [process("p1", None, "a", mailbox="7")]},
            "processes[0] (id 'p1').mailbox is a string, expected an integer",
        ),
        (
            {**tree(), "processes": [process("p1", None, "a", uptime=None)]},
            "processes[0] (id 'p1').uptime is null, expected a number",
        ),
        (
            {**tree(), "processes": [process("p1", "p7", "a")]},
            "processes[0] (id 'p1'): its parent 'p7' is not an earlier process",
        ),
        (
            {**tree(), "processes": [process("p1", None, "a"), process("p1", None, "b")]},
            "processes[1] (id 'p1'): the id is used twice",
        ),
    ],
)
def test_a_document_not_of_the_contracts_shape_is_one_line_and_exit_1(
    service: Service, document: Any, what: str
) -> None:
    service.serve(document)
    result = otpgen("observe", service.url, "--once")
    assert result.returncode == 1
    assert result.stdout == ""
    prefix = (
        f"error: {service.url}/observer/api/tree?limit=200 did not answer an observer tree: {what}"
    )
    assert result.stderr.startswith(prefix), result.stderr
    assert result.stderr.count("\n") == 1


def test_keys_the_contract_does_not_name_are_ignored(service: Service) -> None:
    document = tree()
    document["extra"] = True
    document["processes"][0]["links"] = ["p2"]
    service.serve(document)
    result = otpgen("observe", service.url, "--once")
    assert result.returncode == 0, result.stderr


# Units and layout


def test_human_units() -> None:
    assert [_observe.human_bytes(n) for n in (0, 1023, 1024, 1536, 5 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 GiB",
    ]
    seconds = [None, 0, 0.000_25, 0.0123, 0.5, 4.2, 12.5, 184, 7380, 93600]
    assert [_observe.human_seconds(s) for s in seconds] == [
        "-",
        "0s",
        "250us",
        "12.3ms",
        "500ms",
        "4.20s",
        "12.5s",
        "3m04s",
        "2h03m",
        "1d02h",
    ]


def test_a_narrow_terminal_leaves_out_the_least_needed_columns_first() -> None:
    rows = _observe.arrange(tree()["processes"], None, False)
    texts = [_observe.cells(row) for row in rows]
    everything, _ = _observe.fit(texts, 200)
    assert [_observe.COLUMNS[i] for i in everything] == list(_observe.COLUMNS)
    narrow, names = _observe.fit(texts, 60)
    kept = [_observe.COLUMNS[i] for i in narrow]
    assert "current" not in kept
    assert kept[:4] == ["process", "status", "restarts", "mailbox"]
    assert names >= min(len("│  └─ job-b"), _observe.NAME_ROOM)


def test_ascii_guides_off_a_utf8_stream() -> None:
    rows = _observe.arrange(tree()["processes"], None, False, ascii_only=True)
    assert [row.guide for row in rows] == ["", "|- ", "|- ", "|  |- ", "|  `- ", "`- ", ""]


# The live view, on a pseudo-terminal


class Screen:
    """`otpgen ARGS` on a pseudo-terminal of 120 x 40: what it draws, keys typed, signals."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.modes = termios.tcgetattr(slave)
        environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self.process = subprocess.Popen(
            [otpgen_exe(), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            env={**environ, "TERM": "xterm-256color", **(env or {})},
        )
        os.close(slave)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.seen = ""
        self.closed = False

    def _read(self, timeout: float) -> None:
        if self.closed or not select.select([self.master], [], [], timeout)[0]:
            return
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # every copy of the terminal's other end is closed
            chunk = b""
        if not chunk:
            self.closed = True
        self.seen += self.decoder.decode(chunk)

    def expect(self, text: str, timeout: float = 20.0) -> int:
        """Wait until `text` is drawn after what was seen so far; where it starts."""
        start = len(self.seen)
        deadline = time.monotonic() + timeout
        while text not in self.seen[start:]:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; saw {self.seen!r}"
            assert not self.closed, f"never saw {text!r} before the end; saw {self.seen!r}"
            self._read(remaining)
        return self.seen.index(text, start)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 20.0) -> int:
        """Read the rest until the program exits; its exit status."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None or not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.process.kill()
                pytest.fail(f"still running {timeout} s later; saw {self.seen!r}")
            self._read(min(remaining, 0.2))
            if self.process.poll() is not None and not select.select([self.master], [], [], 0)[0]:
                break
        self.final_modes = termios.tcgetattr(self.master)
        os.close(self.master)
        return self.process.wait()


@pytest.fixture
def screen_of() -> Iterator[Any]:
    screens: list[Screen] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Screen:
        screens.append(Screen(["observe", *args], env))
        return screens[-1]

    yield start
    for screen in screens:
        if screen.process.poll() is None:
            screen.process.kill()
            screen.process.wait()
        with contextlib.suppress(OSError):
            os.close(screen.master)


def test_live_view_draws_updates_and_quits_on_q(service: Service, screen_of: Any) -> None:
    screen = screen_of(service.url, "--interval", "0.1")
    for name in ("app", "inventory", "workers", "job-a", "job-b", "cache", "loner"):
        screen.expect(name)
    screen.expect("restarts 4")
    service.serve(tree(jobs_restarts=7))
    screen.expect("restarts 11")  # 4 + the 7 of job-a
    screen.type("q")
    assert screen.finish() == 0, screen.seen
    assert "Traceback" not in screen.seen
    assert "error" not in screen.seen
    # the terminal's modes are given back as they were (cbreak undone: echo, line editing)
    assert screen.final_modes[3] == screen.modes[3]


def test_keys_change_the_order_at_once(service: Service, screen_of: Any) -> None:
    screen = screen_of(service.url, "--interval", "60")  # no poll in between: keys redraw
    screen.expect("tree: q quits, s sorts, f flat/tree")
    screen.type("s")
    screen.expect("tree by mailbox: q quits")
    screen.type("s")
    screen.expect("tree by handler_time: q quits")
    screen.type("f")
    screen.expect("flat by handler_time: q quits")
    screen.type("Q")
    assert screen.finish() == 0, screen.seen
    assert service.requests == 1


def test_the_live_view_shows_what_fits_and_counts_the_rest(
    service: Service, screen_of: Any
) -> None:
    workers = [process(f"w{i}", "p1", f"worker-{i}") for i in range(100)]
    service.serve({**tree(), "processes": [supervisor("p1", None, "app"), *workers]})
    screen = screen_of(service.url, "--interval", "60")
    # 40 lines: the header, the column titles, 36 rows, the notes line, one spare
    screen.expect("tree: q quits, s sorts, f flat/tree; 65 more below, --sort puts the busiest")
    screen.type("q")
    assert screen.finish() == 0, screen.seen
    assert "worker-34" in screen.seen
    assert "worker-35" not in screen.seen


def test_keys_answer_while_a_poll_waits_for_the_service(service: Service, screen_of: Any) -> None:
    screen = screen_of(service.url, "--interval", "0.1")
    screen.expect("job-b")
    service.hold = threading.Event()
    assert service.held.wait(20)
    screen.type("q")
    assert screen.finish() == 0, screen.seen
    # q ended the view during the poll: it did not wait for the poll to time out first
    assert "unreachable" not in screen.seen


def test_ctrl_c_in_the_live_view_exits_130_without_a_traceback(
    service: Service, screen_of: Any
) -> None:
    screen = screen_of(service.url, "--interval", "0.1")
    screen.expect("job-b")
    os.kill(screen.process.pid, signal.SIGINT)
    assert screen.finish() == 130, screen.seen
    assert "error: interrupted" in screen.seen
    assert "Traceback" not in screen.seen
    assert screen.final_modes[3] == screen.modes[3]


def test_live_view_keeps_polling_while_the_service_is_away(screen_of: Any) -> None:
    service = Service([tree()])
    port = service.port
    screen = screen_of(service.url, "--interval", "0.1")
    screen.expect("restarts 4")
    service.stop()
    screen.expect("unreachable, retrying")
    screen.expect("job-b")  # the last snapshot stays up under the notice
    back = Service([tree(jobs_restarts=2)], port=port)
    try:
        screen.expect("restarts 6")
        screen.type("q")
        assert screen.finish() == 0, screen.seen
    finally:
        back.stop()


def test_live_view_waits_for_a_service_not_up_yet(screen_of: Any) -> None:
    port = free_port()
    screen = screen_of(f"http://127.0.0.1:{port}", "--interval", "0.1")
    screen.expect("unreachable, retrying")
    service = Service([tree()], port=port)
    try:
        screen.expect("job-b")
        screen.type("q")
        assert screen.finish() == 0, screen.seen
    finally:
        service.stop()


def test_a_document_not_of_the_contracts_shape_ends_the_live_view(
    service: Service, screen_of: Any
) -> None:
    service.serve({**tree(), "version": 2})
    screen = screen_of(service.url, "--interval", "0.1")
    assert screen.finish() == 1, screen.seen
    assert "version is 2, this otpgen reads 1" in screen.seen
    assert "Traceback" not in screen.seen


COLOUR = "\x1b[1;31m"  # the restarting row: bold red


def test_restarting_rows_are_red_unless_no_color(service: Service, screen_of: Any) -> None:
    coloured = screen_of(service.url, "--once")
    assert coloured.finish() == 0, coloured.seen
    assert COLOUR in coloured.seen
    plain = screen_of(service.url, "--once", env={"NO_COLOR": "1"})
    assert plain.finish() == 0, plain.seen
    assert "restarting" in plain.seen
    assert not any(f"\x1b[{n}" in plain.seen for n in ("31m", "33m", "1;31m", "1;33m"))


def test_off_a_terminal_the_watch_prints_a_frame_per_poll(service: Service) -> None:
    service.documents = [tree(jobs_restarts=1), tree(jobs_restarts=2)]
    process = subprocess.Popen(
        [otpgen_exe(), "observe", service.url, "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    headers: list[str] = []
    while len(headers) < 2:
        line = process.stdout.readline()
        assert line, "the watch ended"
        if line.startswith("127.0.0.1:"):
            headers.append(line)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert stderr.strip() == "error: interrupted"
    assert "restarts 5" in headers[0]
    assert "restarts 6" in headers[1]


def test_a_dumb_terminal_gets_a_plain_frame_per_poll(service: Service, screen_of: Any) -> None:
    service.documents = [tree(jobs_restarts=1), tree(jobs_restarts=2)]
    screen = screen_of(service.url, "--interval", "0.1", env={"TERM": "dumb"})
    screen.expect("restarts 5")
    screen.expect("restarts 6")
    os.kill(screen.process.pid, signal.SIGINT)
    assert screen.finish() == 130, screen.seen
    assert "\x1b[" not in screen.seen  # no cursor movement, no colour
    assert "│  └─ job-b" in screen.seen


def test_off_a_terminal_an_unreachable_service_is_a_line_per_poll_on_stderr() -> None:
    port = free_port()
    process = subprocess.Popen(
        [otpgen_exe(), "observe", f"http://127.0.0.1:{port}", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines = [process.stderr.readline() for _ in range(2)]
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert stdout == ""
    for line in lines:
        assert line.startswith(f"unreachable, retrying: cannot reach http://127.0.0.1:{port}/")
    assert stderr.splitlines()[-1] == "error: interrupted"


# Against the kernel's own snapshot

KERNEL_DIR = Path(__file__).resolve().parents[1] / "templates" / "kernel"


@pytest.fixture
def kernel_service() -> Iterator[str]:
    """tests/observe_service.py on this checkout's kernel: its base URL."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("observe_service.py")), str(KERNEL_DIR)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    assert port.isdigit(), f"the service did not start (exit status {process.poll()})"
    yield f"http://127.0.0.1:{port}"
    process.stdin.close()
    assert process.wait(timeout=30) == 0


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200


def observed_until(url: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """`--once --format json` again until `done` holds for the counter's entry."""
    for _ in range(50):
        result = otpgen("observe", url, "--once", "--format", "json")
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        Draft202012Validator(observe_schema()).validate(data)
        counter = next(p for p in data["processes"] if p["name"] == "counter")
        if done(counter):
            return data
    pytest.fail(f"the counter never got there: {counter}")


def test_the_kernels_snapshot_is_read_as_the_tree_it_is(kernel_service: str) -> None:
    result = otpgen("observe", kernel_service, "--once")
    assert result.returncode == 0, result.stderr
    assert names(result.stdout) == [
        "Supervisor",
        "counter",
        "users",
        "Session",
        "Session",
        "Session",
    ]
    data = observed_until(kernel_service, lambda counter: True)
    shown = [(p["name"] or p["class"], p["kind"], p["depth"]) for p in data["processes"]]
    assert shown == [
        ("Supervisor", "supervisor", 0),
        ("counter", "worker", 1),
        ("users", "dynamic", 1),
        ("Session", "worker", 2),
        ("Session", "worker", 2),
        ("Session", "worker", 2),
    ]
    assert data["summaries"] == {}

    # Two children of each supervisor: the third session is a summary row.
    result = otpgen("observe", kernel_service, "--once", "--limit", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "6 processes (5 shown)" in lines[0]
    assert lines[-1].strip() == "└─ + 1 more: 0 messages waiting in 0, 0 restarting"
    data = json.loads(
        otpgen("observe", kernel_service, "--once", "--limit", "2", "--format", "json").stdout
    )
    Draft202012Validator(observe_schema()).validate(data)
    users = next(p for p in data["processes"] if p["name"] == "users")
    assert data["summaries"][users["id"]]["children"] == 3
    assert data["summaries"][users["id"]]["shown"] == 2
    assert data["totals"]["processes"] == 6

    get(f"{kernel_service}/crash")
    data = observed_until(kernel_service, lambda counter: counter["restarts"] == 1)
    assert data["totals"]["restarts"] == 1

    get(f"{kernel_service}/block")
    data = observed_until(
        kernel_service, lambda c: c["current"] == "handle_cast" and c["mailbox"] == 150
    )
    counter = next(p for p in data["processes"] if p["name"] == "counter")
    assert counter["backlogged"] is True
    assert data["totals"]["backlogged"] == 1
    text = otpgen("observe", kernel_service, "--once", "--flat", "--sort", "mailbox").stdout
    assert names(text)[0] == "counter"
    assert "1 backlogged" in text.splitlines()[0]
    get(f"{kernel_service}/release")


# Import cost


def test_other_commands_do_not_import_rich_or_urllib() -> None:
    code = (
        "import sys, otpgen._cli; "
        "print(sorted({'rich', 'urllib.request', 'http.client', 'otpgen._observe'} "
        "& set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == "[]\n"


@pytest.mark.parametrize("interval", ["nan", "inf"])
def test_a_non_finite_interval_is_refused_like_one_below_the_range(interval: str) -> None:
    # Without the check, NaN passed the range check and polled with no delay at all.
    result = subprocess.run(
        [otpgen_exe(), "observe", "http://127.0.0.1:9", "--interval", interval],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: Invalid value for '--interval': {interval} is not a finite number in the "
        "range x>=0.1. (see `otpgen observe --help`)\n"
    )
