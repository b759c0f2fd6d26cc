"""One behavioural suite per pattern, run against the memory backend and the server
backend alike: the generated test module of pubsub and task, rendered by the installed
`otpgen` for each backend and run with pytest against the server the fixtures found
(OTPGEN_TEST_REDIS_URL / OTPGEN_TEST_POSTGRES_DSN, the local one, or a private one).

The server renders run the in-memory suite plus what the distributed case promises
(messages to and from other nodes; jobs that survive a restart, retries, the jobs of a
dead worker run again).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RENDERS = [("pubsub", "memory"), ("pubsub", "redis"), ("task", "memory"), ("task", "postgres")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service with each pattern rendered once per backend, as `<pattern>_<backend>`."""
    otpgen = shutil.which("otpgen")
    assert otpgen is not None, "the otpgen console script is not installed"
    base = tmp_path_factory.mktemp("contracts")
    subprocess.run([otpgen, "init", "shop", "--no-input"], cwd=base, check=True)
    root = base / "shop"
    for pattern, backend in RENDERS:
        name = f"{pattern}_{backend}"
        new = ["new", pattern, name, "--set", f"backend={backend}", "--no-input", "--no-wire"]
        subprocess.run([otpgen, *new], cwd=root, check=True, capture_output=True)
    return root


def run_suite(root: Path, pattern: str, backend: str, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, f"tests/test_{pattern}_{backend}.py"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root / "src"), "CI": "true", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert " skipped" not in result.stdout


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_the_pubsub_suite_passes_on(
    backend: str, project: Path, request: pytest.FixtureRequest
) -> None:
    env = {"REDIS_URL": request.getfixturevalue("redis_url")} if backend == "redis" else {}
    run_suite(project, "pubsub", backend, env)


@pytest.mark.parametrize("backend", ["memory", "postgres"])
def test_the_task_suite_passes_on(
    backend: str, project: Path, request: pytest.FixtureRequest
) -> None:
    server = backend == "postgres"
    env = {"DATABASE_URL": request.getfixturevalue("postgres_dsn")} if server else {}
    run_suite(project, "task", backend, env)
