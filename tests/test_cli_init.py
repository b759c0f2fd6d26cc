"""`otpgen init --dry-run`: the files a real run writes, listed, and nothing written (not
even by a template's hooks)."""

import json
from pathlib import Path

from clikit import otpgen


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
