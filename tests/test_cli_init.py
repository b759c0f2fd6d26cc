"""`otpgen init --dry-run`: the files a real run writes, listed, and nothing written (not
even by a template's hooks); the values `init` makes from the project name, and refuses."""

import json
import subprocess
from pathlib import Path

import pytest
from clikit import otpgen

from otpgen._format import _ruff
from otpgen._init import PYTHON_VERSIONS


def refused(cwd: Path, *args: str) -> str:
    """Run `otpgen init ARGS --no-input` in the empty `cwd`: one error line, exit 2,
    nothing written."""
    result = otpgen("init", *args, "--no-input", cwd=cwd)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert list(cwd.iterdir()) == []
    return result.stderr.strip()


def test_init_dry_run_lists_every_file_of_the_real_run_and_writes_nothing(
    tmp_path: Path,
) -> None:
    preview = otpgen("init", "svc", "--no-input", "--dry-run", "--format", "json", cwd=tmp_path)
    assert preview.returncode == 0, preview.stderr
    assert list(tmp_path.iterdir()) == []
    planned = json.loads(preview.stdout)
    assert planned["dry_run"] is True
    text = otpgen("init", "svc", "--no-input", "--dry-run", cwd=tmp_path)
    assert text.stdout.splitlines()[-1] == "dry run: nothing written"
    assert "--- " not in text.stdout  # no diffs: a new repository's would be all of it
    made = otpgen("init", "svc", "--no-input", "--format", "json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["files"] == planned["files"]
    for entry in planned["files"]:
        assert f"create    {entry['path']}" in text.stdout
        assert (tmp_path / "svc" / entry["path"]).is_file()


def test_init_dry_run_never_runs_a_templates_hooks(tmp_path: Path) -> None:
    template = tmp_path / "tpl"
    root = template / "{{cookiecutter.project_slug}}"
    (root / "src/{{cookiecutter.package_name}}").mkdir(parents=True)
    (root / "src/{{cookiecutter.package_name}}/__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "{{cookiecutter.project_slug}}"\n')
    (template / "cookiecutter.json").write_text('{"project_slug": "svc", "package_name": "svc"}')
    (template / "hooks").mkdir()
    marker = tmp_path / "HOOK_RAN"
    (template / "hooks/pre_gen_project.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('yes')\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    args = ("init", "--template", str(template), "--trust", "--no-input", "--dry-run")
    result = otpgen(*args, cwd=out)
    assert result.returncode == 0, result.stderr
    assert "a dry run never runs them" in result.stderr
    assert not marker.exists()
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("project_name", "slug", "package"),
    [
        ("Acme's Billing", "acmes-billing", "acmes_billing"),
        ("Café Billing", "cafe-billing", "cafe_billing"),
        ("Straße & Co.", "strasse-co", "strasse_co"),
    ],
)
def test_init_makes_the_slug_from_any_project_name_by_folding_and_dropping_characters(
    tmp_path: Path, project_name: str, slug: str, package: str
) -> None:
    result = otpgen("init", "--no-input", "--set", f"project_name={project_name}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / slug / "src" / package / "application.py").is_file()
    assert f'name = "{slug}"' in (tmp_path / slug / "pyproject.toml").read_text()


def test_init_says_which_set_fixes_a_slug_it_cannot_make(tmp_path: Path) -> None:
    line = refused(tmp_path, "--set", "project_name=日本")
    assert line.startswith("error: could not make a project_slug from project_name '日本'")
    assert line.endswith("pass --set project_slug=NAME (lowercase letters, digits and -)")
    line = refused(tmp_path, "--set", "project_name=123 Go")
    assert line.endswith("pass --set package_name=NAME")


@pytest.mark.parametrize(
    ("args", "shadowed"),
    [
        (["pytest"], "pytest>=8.0 in its test extra"),
        (["svc", "--set", "package_name=mypy"], "mypy>=1.10 in its test extra"),
        (["svc", "--set", "package_name=pytest_asyncio"], "pytest-asyncio>=0.24"),
        (["hypothesis"], "hypothesis, which the project's checks or tests may use"),
        (["svc", "--set", "package_name=ruff"], "ruff>=0.6 in its test extra"),
        (["svc", "--set", "package_name=psycopg"], "psycopg>=3.1, which the task pattern adds"),
        (["svc", "--set", "package_name=hatchling"], "hatchling>=1.21 in its build-system"),
    ],
)
def test_init_refuses_a_package_that_would_shadow_the_projects_own_tools(
    tmp_path: Path, args: list[str], shadowed: str
) -> None:
    line = refused(tmp_path, *args)
    assert f"would shadow {shadowed}" in line
    assert line.endswith("choose another with --set package_name=NAME")


@pytest.mark.parametrize("version", ["3.99", "3.10", "3.15", "3"])
def test_init_refuses_a_python_version_ruff_cannot_target_naming_those_it_can(
    tmp_path: Path, version: str
) -> None:
    line = refused(tmp_path, "svc", "--set", f"python_version={version}")
    assert line == (
        "error: expected python_version to be 3.11 or newer, one of 3.11, 3.12, 3.13, 3.14 "
        f"(the versions ruff's target-version knows), got: '{version}'"
    )


def test_every_python_version_init_accepts_is_a_target_version_ruff_knows(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    for version in PYTHON_VERSIONS:
        target = "py" + version.replace(".", "")
        result = subprocess.run(
            [_ruff(), "check", "--isolated", "--target-version", target, "a.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
