"""The CI workflow and pre-commit configuration `otpgen init` writes work as written: the
workflow passes zizmor's audits (pinned actions, least permissions, no persisted
credentials) with a timeout, both pin the otpgen that generated the repository, and the
pre-commit hook is the one this repository ships in `.pre-commit-hooks.yaml`."""

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from otpgen._init import InitRequest, plan_init
from otpgen._plan import apply_plan
from otpgen._version import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ci")
    plan = plan_init(InitRequest(cwd=base, directory=Path("shop")))
    apply_plan(plan)
    return plan.root


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_workflow_passes_zizmors_audits(service: Path) -> None:
    result = run("zizmor", "--offline", "--no-progress", ".github/workflows/ci.yml", cwd=service)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout


def test_the_workflow_pins_actions_by_commit_and_otpgen_by_version(service: Path) -> None:
    workflow = yaml.safe_load((service / ".github/workflows/ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert workflow["permissions"] == {"contents": "read"}
    assert 0 < job["timeout-minutes"] <= 30
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert uses, "the workflow checks out and sets up Python"
    for ref in uses:
        assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", ref), ref
    installs = " ".join(step.get("run", "") for step in job["steps"])
    assert f'"otpgen=={__version__}"' in installs


def test_pre_commit_uses_the_shipped_hook_at_the_generating_version(service: Path) -> None:
    config = yaml.safe_load((service / ".pre-commit-config.yaml").read_text())
    (repo,) = config["repos"]
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert repo["repo"] == urls["Repository"]
    assert repo["rev"] == f"v{__version__}"
    shipped = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    ids = {hook["id"] for hook in shipped}
    assert {hook["id"] for hook in repo["hooks"]} <= ids
    (check,) = [hook for hook in shipped if hook["id"] == "otpgen-check"]
    assert check["entry"] == "otpgen check"
    assert check["pass_filenames"] is False


def test_pre_commit_accepts_the_config_and_the_hooks_manifest(service: Path) -> None:
    config = run("pre-commit", "validate-config", ".pre-commit-config.yaml", cwd=service)
    assert config.returncode == 0, config.stdout + config.stderr
    manifest = run("pre-commit", "validate-manifest", ".pre-commit-hooks.yaml", cwd=ROOT)
    assert manifest.returncode == 0, manifest.stdout + manifest.stderr


def test_the_dockerfile_runs_the_service_as_pid_1_as_a_non_root_user(service: Path) -> None:
    lines = [
        line.strip()
        for line in (service / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    (cmd,) = [line for line in lines if line.startswith(("CMD", "ENTRYPOINT"))]
    # the exec form: no shell between docker stop's SIGTERM and Python
    assert json.loads(cmd.removeprefix("CMD").strip()) == ["python", "-m", "shop"]
    assert "tests/" in (service / ".dockerignore").read_text().split()
