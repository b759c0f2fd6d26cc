"""A service made by `otpgen init` through later updates: wiring happens on `new` only, the
skeleton is upgraded like any generated file, and the merge bases stay out of every tool's way.
"""

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from clikit import otpgen

from otpgen._templates import templates_dir


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".ruff_cache" not in p.parts
    }


@pytest.fixture
def service(tmp_path: Path) -> Path:
    assert otpgen("init", "shop", "--no-input", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    for pattern, name in (("genserver", "inventory"), ("cache", "prices")):
        result = otpgen("new", pattern, name, "--no-input", cwd=root)
        assert result.returncode == 0, result.stderr
    return root


def override_application(root: Path) -> None:
    """A template change to application.py, made the way a user makes one."""
    shipped = (templates_dir() / "application/application.py.j2").read_text()
    override = root / ".otpgen/templates/application/application.py.j2"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text(shipped.replace("Plain functions need", "Plain functions still need"))


def test_update_keeps_edited_and_removed_children_and_adds_none(service: Path) -> None:
    app = service / "src/shop/application.py"
    text = app.read_text()
    assert "Inventory.child_spec()" in text
    text = text.replace(
        "Inventory.child_spec()",
        "Inventory.child_spec(capacity=500)",
    )
    # the user removes the cache: its module, its test and its lines in the tree
    text = "".join(line for line in text.splitlines(True) if "prices" not in line.lower())
    app.write_text(text)
    (service / "src/shop/prices.py").unlink()
    (service / "tests/test_prices.py").unlink()
    override_application(service)
    result = otpgen("update", cwd=service)
    assert result.returncode == 0, result.stderr
    after = app.read_text()
    assert "Plain functions still need" in after  # the template change arrived
    assert after.count("child_spec(") == 1
    assert "Inventory.child_spec(capacity=500)" in after
    assert "prices" not in after.lower()
    assert not (service / "src/shop/prices.py").exists()
    assert otpgen("update", cwd=service).stdout.startswith("nothing to do")


def test_the_bases_are_invisible_to_ruff_mypy_and_pytest(service: Path) -> None:
    before = tree(service / ".otpgen")
    for command in (
        ["ruff", "format", "."],
        ["ruff", "check", "--fix", "--isolated", "--select", "ALL", "."],
        ["ruff", "check", "--fix", "."],
    ):
        subprocess.run([sys.executable, "-m", *command], cwd=service, capture_output=True)
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "."], cwd=service, capture_output=True, text=True
    )
    assert ".otpgen" not in mypy.stdout
    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=service,
        capture_output=True,
        text=True,
    )
    assert ".otpgen" not in pytest_run.stdout
    assert tree(service / ".otpgen") == before
    assert otpgen("check", cwd=service).returncode == 0


def test_the_skeleton_is_upgraded_and_the_users_edits_kept(
    service: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from otpgen._plan import apply_plan
    from otpgen._update import check, plan_update

    templates = tmp_path / "templates-next"
    shutil.copytree(templates_dir(), templates)
    skeleton = templates / "service/{{cookiecutter.project_slug}}"
    nox = skeleton / "noxfile.py"
    nox.write_text(nox.read_text() + "\n\n# Added by the next template.\n")
    readme = skeleton / "README.md"
    readme.write_text(readme.read_text() + "\nA line the next template adds.\n")
    toml = templates / "service/template.toml"
    version = tomllib.loads(toml.read_text())["version"]
    toml.write_text(toml.read_text().replace(f"version = {version}", f"version = {version + 1}"))
    pyproject = service / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("dependencies = []", 'dependencies = ["attrs"]')
    )
    assert any(f.failing for f in check(service, templates))
    plan = plan_update(service, templates)
    actions = {c.path.as_posix(): c.action.value for c in plan.changes if c.writes}
    assert actions == {"noxfile.py": "update", "README.md": "update"}
    apply_plan(plan)
    assert "# Added by the next template." in (service / "noxfile.py").read_text()
    assert 'dependencies = ["attrs"]' in pyproject.read_text()
    assert not any(f.failing for f in check(service, templates))


def test_text_and_json_report_the_same_wiring_failure(service: Path) -> None:
    app = service / "src/shop/application.py"
    app.write_text(app.read_text().replace("def children()", "def processes()"))
    text = otpgen("new", "agent", "hits", "--no-input", cwd=service)
    assert text.returncode == 0, text.stderr
    assert "could not wire it into src/shop/application.py" in text.stderr
    data = json.loads(
        otpgen("new", "agent", "tally", "--no-input", "--format", "json", cwd=service).stdout
    )
    assert any("could not wire it into src/shop/application.py" in n for n in data["notes"])
    assert data["files"][:2] == [
        {"path": "src/shop/tally.py", "action": "create", "why": ""},
        {"path": "tests/test_tally.py", "action": "create", "why": ""},
    ]


# What otpgen itself adds to a generated file (a module wired into application.py, its
# requirements in pyproject.toml) is recorded as otpgen's, not reported as the user's edit.


def findings(root: Path) -> list[dict[str, Any]]:
    """What `otpgen check --format json` finds (it must pass)."""
    result = otpgen("check", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)["findings"]
    return found


def test_a_service_with_wired_modules_has_no_edits_of_the_users(service: Path) -> None:
    assert findings(service) == []
    assert otpgen("check", cwd=service).stdout.strip() == "up to date"


def test_init_with_web_has_no_edits_of_the_users(tmp_path: Path) -> None:
    assert otpgen("init", "shop", "--web", "--no-input", cwd=tmp_path).returncode == 0
    assert findings(tmp_path / "shop") == []


def test_an_edit_after_the_wiring_is_the_users_and_is_kept(service: Path) -> None:
    app = service / "src/shop/application.py"
    app.write_text(app.read_text() + "# mine\n")
    assert findings(service) == [
        {
            "path": "src/shop/application.py",
            "cause": "edited by you",
            "fix": "nothing: update keeps it",
            "failing": False,
        }
    ]
    # wiring another module into the edited file does not make the edit otpgen's
    assert otpgen("new", "agent", "tally", "--no-input", cwd=service).returncode == 0
    assert [f["path"] for f in findings(service)] == ["src/shop/application.py"]
    assert app.read_text().endswith("# mine\n")


def test_removing_a_module_keeps_the_file_otpgens(service: Path) -> None:
    assert otpgen("remove", "cache", "prices", cwd=service).returncode == 0
    assert "prices" not in (service / "src/shop/application.py").read_text()
    assert findings(service) == []


def test_a_template_change_merges_into_a_wired_file_which_stays_otpgens(service: Path) -> None:
    override_application(service)
    result = otpgen("update", cwd=service)
    assert result.returncode == 0, result.stderr
    assert "the lines otpgen added kept" in result.stdout
    after = (service / "src/shop/application.py").read_text()
    assert "Plain functions still need" in after
    assert "Inventory.child_spec()" in after
    # the override itself may be reported (it shadows a shipped template); no edit of the user's
    assert all(f["cause"] != "edited by you" for f in findings(service))
    assert otpgen("update", cwd=service).stdout.startswith("nothing to do")
