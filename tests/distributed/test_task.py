"""task with backend=postgres across real OS processes: three workers share one database;
one is killed with SIGKILL while it runs a job, and no job is lost.

Each worker is a small driver around the generated module (rendered by the installed
`otpgen`), its heartbeat and stalled-job timings shortened so the test is quick. Each
job records in a table when it starts and when it is done; the test enqueues jobs, kills
a worker that has a job started and not done, and waits until every job is done.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

NODE = """\
import asyncio, os, sys

import psycopg

from shop import otp, work

work.HEARTBEAT = 0.5  # the module's timings, shortened for the test
work.STALLED_AFTER = 2.0
work.SWEEP_EVERY = 0.5
work.POLL_EVERY = 0.2


@work.job
async def step(key: str, seconds: float) -> None:
    dsn = os.environ["DSN"]
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("INSERT INTO runs VALUES (%s, %s, 'start')", (key, os.getpid()))
        await asyncio.sleep(seconds)
        await conn.execute("INSERT INTO runs VALUES (%s, %s, 'done')", (key, os.getpid()))


async def main(mode: str, count: int = 0) -> None:
    run_jobs = mode == "work"
    spec = work.child_spec(os.environ["DSN"], run_jobs=run_jobs, concurrency=2)
    tree = await otp.Supervisor.start([spec])
    try:
        if run_jobs:
            print("ready", flush=True)
            await asyncio.Event().wait()
        for n in range(count):
            await work.enqueue(step, f"job-{n}", 2.0)
    finally:
        await tree.stop(otp.SHUTDOWN)


asyncio.run(main(sys.argv[1], *map(int, sys.argv[2:])))
"""

JOBS = 12


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service with the task module rendered as `work`, backend=postgres."""
    otpgen = shutil.which("otpgen")
    assert otpgen is not None, "the otpgen console script is not installed"
    base = tmp_path_factory.mktemp("task")
    subprocess.run([otpgen, "init", "shop", "--no-input"], cwd=base, check=True)
    root = base / "shop"
    new = ["new", "task", "work", "--set", "backend=postgres", "--no-input", "--no-wire"]
    subprocess.run([otpgen, *new], cwd=root, check=True, capture_output=True)
    (root / "node.py").write_text(NODE)
    return root


def start(project: Path, dsn: str, *args: str) -> "subprocess.Popen[str]":
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "DSN": dsn}
    return subprocess.Popen(
        [sys.executable, str(project / "node.py"), *args],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )


@pytest.fixture
def workers(project: Path, postgres_dsn: str) -> Iterator[list["subprocess.Popen[str]"]]:
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE runs (key text, pid int, phase text)")
    started = [start(project, postgres_dsn, "work") for _ in range(3)]
    try:
        for process in started:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def runs(dsn: str) -> list[tuple[str, int, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT key, pid, phase FROM runs").fetchall()


def test_a_job_whose_worker_is_killed_mid_job_is_run_again_and_none_is_lost(
    project: Path, postgres_dsn: str, workers: list["subprocess.Popen[str]"]
) -> None:
    enqueuer = start(project, postgres_dsn, "enqueue", str(JOBS))
    assert enqueuer.wait(timeout=30) == 0
    # Kill the first worker to start a job, while it runs it (a job takes 2 s, and each
    # worker has two waves of them to run).
    deadline = time.monotonic() + 15.0
    while not (started := runs(postgres_dsn)):
        assert time.monotonic() < deadline, "no job started"
        time.sleep(0.05)
    victim = started[0][1]
    (process,) = [p for p in workers if p.pid == victim]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    by_victim = [(key, phase) for key, pid, phase in runs(postgres_dsn) if pid == victim]
    interrupted = {key for key, phase in by_victim if phase == "start"}
    interrupted -= {key for key, phase in by_victim if phase == "done"}
    assert interrupted, f"the worker was killed between two jobs: {by_victim}"
    # Every job is done in the end, the interrupted one by another worker.
    deadline = time.monotonic() + 40.0  # (a bound under load, not a wait)
    while {key for key, _, phase in runs(postgres_dsn) if phase == "done"} != {
        f"job-{n}" for n in range(JOBS)
    }:
        assert time.monotonic() < deadline, f"jobs lost: {sorted(runs(postgres_dsn))}"
        time.sleep(0.1)
    for key in interrupted:  # run again, to the end, by another worker
        assert any(
            k == key and pid != victim and phase == "done" for k, pid, phase in runs(postgres_dsn)
        )
    assert all(p.poll() is None for p in workers if p is not process)  # survivors serve
