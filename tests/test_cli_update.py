"""`otpgen update` and `otpgen check` through the installed console script.

A template change is simulated the way a user makes one: an override in .otpgen/templates.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
from clikit import otpgen, otpgen_exe, shop_project

from otpgen._templates import templates_dir


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shop_project(tmp_path)
    assert otpgen("new", "agent", "hits", "--no-input", cwd=tmp_path).returncode == 0
    return tmp_path


def override_docstring(project: Path, old: str, new: str) -> None:
    shipped = templates_dir() / "patterns/agent/module.py.j2"
    override = project / ".otpgen/templates/patterns/agent/module.py.j2"
    override.parent.mkdir(parents=True, exist_ok=True)
    text = shipped.read_text()
    assert old in text
    override.write_text(text.replace(old, new))


def test_right_after_new_there_is_nothing_to_update_and_check_passes(project: Path) -> None:
    result = otpgen("update", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nothing to do: every file is already as the templates render it\n"
    result = otpgen("check", cwd=project)
    assert (result.returncode, result.stdout) == (0, "up to date\n")


def test_a_template_change_fails_check_then_update_applies_it(project: Path) -> None:
    override_docstring(project, "counters by key in an Agent", "tallies by key in an Agent")
    result = otpgen("check", cwd=project)
    assert result.returncode == 1
    assert "src/shop/hits.py: the agent template changed; fix: run `otpgen update`" in result.stdout
    result = otpgen("update", "--dry-run", cwd=project)
    assert result.returncode == 0
    assert "update    src/shop/hits.py  (template changed)" in result.stdout
    assert "+++ b/src/shop/hits.py" in result.stdout
    assert "tallies by key" not in (project / "src/shop/hits.py").read_text()
    result = otpgen("update", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "tallies by key" in (project / "src/shop/hits.py").read_text()
    assert otpgen("check", cwd=project).returncode == 0


def test_update_says_it_keeps_a_deleted_file_whose_template_changed(project: Path) -> None:
    (project / "src/shop/hits.py").unlink()
    override_docstring(project, "counters by key in an Agent", "tallies by key in an Agent")
    result = otpgen("update", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "kept      src/shop/hits.py  (deleted by you; the template changed: stays deleted, "
        "--restore-deleted brings it back)"
    ]
    assert not (project / "src/shop/hits.py").exists()


def test_update_of_a_path_with_nothing_to_do_says_so_and_leaves_the_rest_to_update(
    project: Path,
) -> None:
    override_docstring(project, "counters by key in an Agent", "tallies by key in an Agent")
    manifest = (project / ".otpgen/manifest.json").read_bytes()
    result = otpgen("update", "tests", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nothing to do: every file is already as the templates render it\n"
    assert (project / ".otpgen/manifest.json").read_bytes() == manifest
    result = otpgen("update", cwd=project)  # the override is still news to the whole update
    assert "updated   src/shop/hits.py  (template changed)" in result.stdout


def test_update_says_so_when_a_template_change_leaves_every_file_as_it_is(
    project: Path,
) -> None:
    # A change to the template that the formatter takes out again: the render's source
    # changes, the file does not.
    override_docstring(project, "def reset(self, key: str)", "def reset(self,key:str)")
    result = otpgen("update", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nothing to change: every file is already as")
    assert otpgen("update", cwd=project).stdout.startswith("nothing to do")


def test_an_overlapping_edit_is_a_conflict_with_exit_status_1(project: Path) -> None:
    module = project / "src/shop/hits.py"
    module.write_text(module.read_text().replace("counters by key in an Agent", "my words"))
    override_docstring(project, "counters by key in an Agent", "tallies by key in an Agent")
    result = otpgen("update", "--format", "json", cwd=project)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["conflicts"] == ["src/shop/hits.py"]
    text = module.read_text()
    assert "my words" in text
    assert "tallies by key" in text
    again = otpgen("update", cwd=project)
    assert again.returncode == 2
    assert again.stderr.startswith("error: src/shop/hits.py still has conflict markers")
    assert otpgen("check", cwd=project).returncode == 1


def test_update_outside_a_generated_project_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    result = otpgen("update", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: nothing to update")


def test_answers_that_break_a_rule_of_the_installed_template_stop_update_and_check(
    tmp_path: Path,
) -> None:
    # As if a release brought the rule min_size <= max_size after these answers were made.
    shop_project(tmp_path)
    assert otpgen("new", "connection-pool", "db", "--no-input", cwd=tmp_path).returncode == 0
    manifest = tmp_path / ".otpgen/manifest.json"
    data = json.loads(manifest.read_text())
    [key] = [k for k, r in data["renders"].items() if r["template"] == "connection-pool"]
    data["renders"][key]["answers"]["min_size"] = 20
    manifest.write_text(json.dumps(data))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for command in ("update", "check"):
        result = otpgen(command, cwd=tmp_path)
        assert result.returncode != 0
        assert result.stderr.startswith(f"error: {key}: its recorded answers break a rule")
        assert "min_size <= max_size" in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_diff_shows_what_update_would_write_and_writes_nothing(project: Path) -> None:
    assert otpgen("diff", cwd=project).stdout == (
        "nothing to update: every file is as the templates render it\n"
    )
    override_docstring(project, "counters by key in an Agent", "tallies by key in an Agent")
    before = (project / "src/shop/hits.py").read_text()
    result = otpgen("diff", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("--- a/src/shop/hits.py\n+++ b/src/shop/hits.py\n")
    assert "\x1b[" not in result.stdout  # not a terminal: no colour
    removed = [line for line in result.stdout.splitlines() if line.startswith("-")][1:]
    added = [line for line in result.stdout.splitlines() if line.startswith("+")][1:]
    assert any("counters by key" in line for line in removed)
    assert any("tallies by key" in line for line in added)
    summary = otpgen("diff", "--summary", cwd=project)
    plus, minus = len(added), len(removed)
    assert summary.stdout == (
        f"update    src/shop/hits.py  (+{plus} -{minus})\n1 file(s), +{plus} -{minus}\n"
    )
    assert otpgen("diff", "tests", cwd=project).stdout.startswith("nothing to update")
    assert (project / "src/shop/hits.py").read_text() == before
    assert otpgen("check", cwd=project).returncode == 1  # still behind: diff wrote nothing


def test_diff_previews_a_conflict_with_the_markers_update_would_write(project: Path) -> None:
    module = project / "src/shop/hits.py"
    module.write_text(module.read_text().replace("counters by key in an Agent", "my words"))
    override_docstring(project, "counters by key in an Agent", "tallies by key in an Agent")
    result = otpgen("diff", cwd=project)
    assert "+<<<<<<< " in result.stdout
    assert "my words" in result.stdout
    assert "tallies by key" in result.stdout
    summary = otpgen("diff", "--summary", cwd=project).stdout
    assert summary.startswith("conflict  src/shop/hits.py")
    assert summary.endswith(", 1 with conflicts\n")


def test_diff_is_coloured_on_a_terminal_unless_no_color(project: Path) -> None:
    override_docstring(project, "counters by key in an Agent", "tallies by key in an Agent")

    def on_terminal(env: dict[str, str]) -> str:
        master, slave = os.openpty()
        process = subprocess.Popen(
            [otpgen_exe(), "diff"], cwd=project, stdout=slave, stderr=slave, env=env
        )
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        process.wait(timeout=30)
        os.close(master)
        return seen.decode()

    plain = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[32m+" in on_terminal(plain)
    assert "\x1b[" not in on_terminal({**plain, "NO_COLOR": "1"})
