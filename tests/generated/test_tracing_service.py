"""A service with `otpgen new tracing`, run as real OS processes: `install()` where otpgen
put it, in `main()` before the event loop exists, traces the tree that `otp.run` starts
afterwards, one trace from a caller's span through a generated GenServer."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import otpgen

# The way a user exports: the SDK configured globally, then main() as otpgen wrote it
# (install() first, then otp.run). The tree gets one extra child that calls the queue
# inside a span once the tree runs, then stops the service with SIGTERM.
RUN_MAIN = """
import asyncio, json, os, signal, sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shop import application, otp
from shop.jobs import NAME, Jobs

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)


class Client(otp.GenServer):
    async def init(self) -> None:
        self.send("go")

    async def handle_info(self, msg: object) -> None:
        with trace.get_tracer("client").start_as_current_span("request"):
            await Jobs.lookup(NAME).put("work")
        os.kill(os.getpid(), signal.SIGTERM)


wired = application.children
application.children = lambda: [*wired(), Client.child_spec()]
status = application.main()
spans = [
    {
        "name": s.name,
        "trace": s.context.trace_id,
        "id": s.context.span_id,
        "parent": s.parent.span_id if s.parent else None,
    }
    for s in exporter.get_finished_spans()
]
print(json.dumps({"status": status, "spans": spans}))
"""


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("traced")
    assert otpgen("init", "shop", "--no-input", cwd=base).returncode == 0
    root = base / "shop"
    for args in (("new", "tracing"), ("new", "genserver", "jobs")):
        result = otpgen(*args, "--no-input", cwd=root)
        assert result.returncode == 0, result.stderr
    return root


def test_main_installs_tracing_before_the_tree_and_one_trace_crosses_processes(
    service: Path,
) -> None:
    result = run([sys.executable, "-c", RUN_MAIN], service, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["status"] == 0
    spans = {s["name"]: s for s in found["spans"] if s["name"] != "otp.handle_info Client"}
    request, client, server = (
        spans["request"],
        spans["otp.call Jobs"],
        spans["otp.handle_call Jobs"],
    )
    assert client["parent"] == request["id"]
    assert server["parent"] == client["id"]
    assert request["trace"] == client["trace"] == server["trace"]


def test_the_service_with_tracing_passes_its_own_checks_and_tests(service: Path) -> None:
    # (its tests run `python -m shop` too: install() in main() with no SDK configured)
    for command in (
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "mypy", "--strict", "src", "tests"],
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
    ):
        result = run(command, service)
        assert result.returncode == 0, f"{command}: {result.stdout[-3000:]}{result.stderr}"
