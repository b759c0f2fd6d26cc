"""The task pattern's postgres backend beside procrastinate used directly: jobs enqueued
and run per second.

`python benchmarks/distributed_task.py [--rounds N] [--jobs N] [--dsn DSN]` renders the
`task` pattern with `--set backend=postgres` into a temporary project, creates a database
of its own on the server (`--dsn`, default postgresql://postgres@127.0.0.1:5432/postgres,
or OTPGEN_TEST_POSTGRES_DSN), and times, per round and per contender, from the first
enqueue to the end of the last job, with one worker already running (10 jobs at once):

- the generated module: `await enqueue(job, n)` for each job, run by its JobWorker under
  an otp.Supervisor;
- procrastinate alone: `await task.defer_async(n=n)` for each job, run by
  `app.run_worker_async(concurrency=10)` in a task.

The job only counts itself; the jobs table is emptied between runs. Time is the wall
clock (the work is round trips to PostgreSQL); rounds alternate the contenders, the table
shows medians and quartiles, and the ratio is the median of per-round ratios. Target
(issue #12): the module's time at most 1.2x procrastinate's. A report, not a test: the
exit status is 0 whether the target is met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

import procrastinate
import psycopg
from harness import load_average, otpgen_command

MODULE = "generated task module (enqueue + JobWorker)"
DIRECT = "procrastinate alone (defer_async + run_worker_async)"
CONCURRENCY = 10
ran = {"count": 0, "target": 0}
all_ran = asyncio.Event()


def render(root: Path) -> ModuleType:
    otpgen, env = otpgen_command()
    (root / "src" / "benchshop").mkdir(parents=True)
    (root / "src" / "benchshop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "benchshop"\nversion = "0"\n')
    command = [*otpgen, "new", "task", "work", "--no-input", "--set", "backend=postgres"]
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    sys.path.insert(0, str(root / "src"))
    return importlib.import_module("benchshop.work")


async def count(n: int) -> None:
    ran["count"] += 1
    if ran["count"] == ran["target"]:
        all_ran.set()


def expect(jobs: int) -> None:
    ran["count"], ran["target"] = 0, jobs
    all_ran.clear()


async def finished(jobs: int) -> None:
    await all_ran.wait()


async def empty(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("TRUNCATE procrastinate_jobs CASCADE")


async def time_module(work: ModuleType, dsn: str, jobs: int) -> float:
    job = count  # made a job once, in measure
    tree = await work.otp.Supervisor.start(
        [work.child_spec(dsn, run_jobs=True, concurrency=CONCURRENCY)]
    )
    try:
        expect(jobs)
        start = time.perf_counter()
        for n in range(jobs):
            await work.enqueue(job, n)
        await finished(jobs)
        return time.perf_counter() - start
    finally:
        await tree.stop(work.otp.SHUTDOWN)


APP = procrastinate.App(connector=procrastinate.PsycopgConnector())
TASK = APP.task(name="bench.count")(count)


async def time_direct(dsn: str, jobs: int) -> float:
    app, task = APP, TASK
    connector = procrastinate.PsycopgConnector(conninfo=dsn)
    with app.replace_connector(connector):
        async with app.open_async():
            worker = asyncio.create_task(
                app.run_worker_async(concurrency=CONCURRENCY, install_signal_handlers=False)
            )
            try:
                await asyncio.sleep(0.5)  # (the module's worker is running when start returns)
                expect(jobs)
                start = time.perf_counter()
                for n in range(jobs):
                    await task.defer_async(n=n)
                await finished(jobs)
                return time.perf_counter() - start
            finally:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)


async def measure(dsn: str, rounds: int, jobs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-task-") as tmp:
        work = render(Path(tmp))
        await work.install_schema(dsn)
        work.job(count)
        samples: dict[str, list[float]] = {MODULE: [], DIRECT: []}
        for index in range(rounds):
            order = [MODULE, DIRECT] if index % 2 == 0 else [DIRECT, MODULE]
            for label in order:
                await empty(dsn)
                if label == MODULE:
                    samples[label].append(await time_module(work, dsn, jobs))
                else:
                    samples[label].append(await time_direct(dsn, jobs))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=500)
    default = os.environ.get(
        "OTPGEN_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--dsn", default=default)
    args = parser.parse_args()
    name = f"otpgen_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(args.dsn)._replace(path=f"/{name}"))
    try:
        samples = asyncio.run(measure(dsn, args.rounds, args.jobs))
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{args.jobs} jobs per run, {args.rounds} rounds, load average {load_average()}")
    for label, times in samples.items():
        q1, median, q3 = statistics.quantiles(times, n=4)
        rate = args.jobs / statistics.median(times)
        print(f"{label:55} median {median:.3f} s ({q1:.3f}-{q3:.3f}), {rate:,.0f} jobs/s")
    ratio = statistics.median(m / d for m, d in zip(samples[MODULE], samples[DIRECT], strict=True))
    verdict = "met" if ratio <= 1.2 else "NOT met"
    print(f"module / procrastinate time: {ratio:.2f}x (target <= 1.2x: {verdict})")


if __name__ == "__main__":
    main()
