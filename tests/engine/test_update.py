"""`otpgen update` and `otpgen check` across a template upgrade (v1 -> v2).

v2 differs from v1 the way real template upgrades do: a new option, a changed docstring, a
renamed helper, a file new in the templates (a kernel module) and a file dropped from them.
"""

import json
import os
from pathlib import Path

import pytest
from enginekit import MODULE, V1_MODULE, edit, failing, snapshot, update

from otpgen._errors import OtpgenError
from otpgen._generate import NewRequest, plan_new
from otpgen._plan import Action, apply_plan
from otpgen._update import check, plan_update


def test_an_unedited_file_is_replaced_by_the_new_render(generated: Path, v2: Path) -> None:
    result = update(generated, v2)
    assert result[MODULE] is Action.UPDATE
    text = (generated / MODULE).read_text()
    assert "version two of the docstring" in text
    assert "def assist(" in text
    assert 'GREETING = "hello"' in text  # the new option takes its default


def test_edits_apart_from_the_template_change_are_merged(generated: Path, v2: Path) -> None:
    edit(generated, MODULE, "LIMIT = 3\n", "LIMIT = 3\nMINE = 1  # mine\n")
    result = update(generated, v2)
    assert result[MODULE] is Action.MERGE
    text = (generated / MODULE).read_text()
    assert "version two of the docstring" in text
    assert "def assist(" in text
    assert "LIMIT = 3\nMINE = 1  # mine\n" in text


def test_overlapping_edits_leave_conflict_markers_with_both_sides(
    generated: Path, v2: Path
) -> None:
    edit(generated, MODULE, "version one of the docstring", "my own docstring")
    plan = plan_update(generated, v2)
    assert [f.path.as_posix() for f in plan.conflicts] == [MODULE]
    apply_plan(plan)
    text = (generated / MODULE).read_text()
    assert "<<<<<<< yours (edited since otpgen wrote it)" in text
    assert "my own docstring" in text
    assert "version two of the docstring" in text
    assert ">>>>>>> worker template v2\n" in text


def test_conflict_rej_keeps_the_file_and_writes_the_new_render_beside_it(
    generated: Path, v2: Path
) -> None:
    edit(generated, MODULE, "version one of the docstring", "my own docstring")
    before = (generated / MODULE).read_text()
    result = update(generated, v2, rej=True)
    assert result[MODULE] is Action.CONFLICT
    assert (generated / MODULE).read_text() == before
    assert "version two of the docstring" in (generated / (MODULE + ".rej")).read_text()


def crlf(project: Path, path: str) -> None:
    """Convert `path` to CRLF line endings, as git's core.autocrlf checks it out."""
    target = project / path
    target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))


def test_a_file_in_crlf_takes_the_template_change_and_stays_in_crlf(
    generated: Path, v2: Path
) -> None:
    crlf(generated, MODULE)
    findings = check(generated, v2)
    assert failing(findings)[MODULE] == "the worker template changed (v1 -> v2)"
    assert [f.cause for f in findings if f.path == MODULE] == [failing(findings)[MODULE]]
    assert update(generated, v2)[MODULE] is Action.UPDATE
    data = (generated / MODULE).read_bytes()
    assert b"version two of the docstring" in data
    assert data.count(b"\n") == data.count(b"\r\n")  # no line in LF among the CRLF ones
    assert update(generated, v2)[MODULE] is Action.KEEP  # and nothing left to do


def test_a_file_in_crlf_merges_line_by_line_keeping_its_edits_and_line_endings(
    generated: Path, v2: Path
) -> None:
    edit(generated, MODULE, "LIMIT = 3\n", "LIMIT = 3\nMINE = 1  # mine\n")
    crlf(generated, MODULE)
    assert update(generated, v2)[MODULE] is Action.MERGE
    data = (generated / MODULE).read_bytes()
    assert b"version two of the docstring" in data
    assert b"LIMIT = 3\r\nMINE = 1  # mine\r\n" in data
    assert b"<<<<<<<" not in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_a_file_in_crlf_conflicts_only_on_the_lines_both_changed(generated: Path, v2: Path) -> None:
    edit(generated, MODULE, "version one of the docstring", "my own docstring")
    crlf(generated, MODULE)
    assert update(generated, v2)[MODULE] is Action.CONFLICT
    data = (generated / MODULE).read_bytes()
    assert data.count(b"<<<<<<< ") == 1
    conflict = data[data.index(b"<<<<<<< ") : data.index(b">>>>>>> ")]
    assert conflict.count(b"\r\n") <= 6  # the docstring's line on each side, not the file
    assert data.count(b"\n") == data.count(b"\r\n")


def test_a_generated_file_made_a_link_gets_the_same_fix_from_check_and_update(
    generated: Path, v2: Path, tmp_path: Path
) -> None:
    real = tmp_path / "elsewhere.py"
    real.write_bytes((generated / MODULE).read_bytes())
    (generated / MODULE).unlink()
    (generated / MODULE).symlink_to(real)
    [finding] = [f for f in check(generated, v2) if f.path == MODULE and f.failing]
    assert finding.cause.endswith("it is a symbolic link, and otpgen does not write through links")
    assert finding.fix == (
        "replace the link with a copy of the file it points to, then run `otpgen update`"
    )
    before = snapshot(generated)
    with pytest.raises(OtpgenError, match=r"symbolic link.*: replace the link with a copy"):
        update(generated, v2)
    assert snapshot(generated) == before
    (generated / MODULE).unlink()  # the fix both name
    real.rename(generated / MODULE)
    assert update(generated, v2)[MODULE] is Action.UPDATE


def test_a_deleted_file_stays_deleted_unless_restored(generated: Path, v2: Path) -> None:
    (generated / "tests/test_job.py").unlink()
    assert update(generated, v2)["tests/test_job.py"] is Action.KEEP
    assert not (generated / "tests/test_job.py").exists()
    assert update(generated, v2)["tests/test_job.py"] is Action.KEEP
    assert update(generated, v2, restore_deleted=True)["tests/test_job.py"] is Action.CREATE
    assert (generated / "tests/test_job.py").is_file()


def test_files_new_in_the_templates_are_added_and_dropped_ones_removed(
    generated: Path, v2: Path
) -> None:
    result = update(generated, v2)
    assert result["src/demo/otp/_extra.py"] is Action.CREATE
    assert result["src/demo/otp/_legacy.py"] is Action.REMOVE
    assert (generated / "src/demo/otp/_extra.py").is_file()
    assert not (generated / "src/demo/otp/_legacy.py").exists()
    files = json.loads((generated / ".otpgen/manifest.json").read_text())["renders"]["kernel"]
    assert "src/demo/otp/_extra.py" in files["files"]
    assert "src/demo/otp/_legacy.py" not in files["files"]


def test_a_dropped_file_the_user_edited_is_kept_and_reported(generated: Path, v2: Path) -> None:
    edit(generated, "src/demo/otp/_legacy.py", "OLD = 1", "OLD = 1  # still used here")
    assert update(generated, v2)["src/demo/otp/_legacy.py"] is Action.KEEP
    assert "still used here" in (generated / "src/demo/otp/_legacy.py").read_text()


def test_the_kernel_is_merged_like_any_other_file(generated: Path, v2: Path) -> None:
    kernel = v2 / "kernel/otp/_registry.py"
    kernel.write_text(kernel.read_text().replace("A table from keys", "A map from keys"))
    edit(
        generated,
        "src/demo/otp/_genserver.py",
        "_STEERING: Final",
        "_STEERING: Final  # mine\n_STEERING: Final",
    )
    result = update(generated, v2)
    assert result["src/demo/otp/_registry.py"] is Action.UPDATE
    assert result["src/demo/otp/_genserver.py"] is Action.KEEP  # only the user changed it
    assert "# mine" in (generated / "src/demo/otp/_genserver.py").read_text()


def test_a_second_update_writes_nothing(generated: Path, v2: Path) -> None:
    edit(generated, MODULE, "LIMIT = 3\n", "LIMIT = 3\nMINE = 1\n")
    update(generated, v2)
    mtimes = {p: p.stat().st_mtime_ns for p in generated.rglob("*") if p.is_file()}
    before = snapshot(generated)
    plan = plan_update(generated, v2)
    assert plan.writes() == []
    assert apply_plan(plan) == []
    assert snapshot(generated) == before
    assert {p: p.stat().st_mtime_ns for p in generated.rglob("*") if p.is_file()} == mtimes


def test_update_with_unchanged_templates_has_nothing_to_do(generated: Path, v1: Path) -> None:
    plan = plan_update(generated, v1)
    assert plan.writes() == []
    assert {f.action for f in plan.changes} == {Action.KEEP}


def test_only_the_given_paths_are_updated(generated: Path, v2: Path) -> None:
    result = update(generated, v2, paths=[generated / "src/demo/otp"])
    assert MODULE not in result
    assert result["src/demo/otp/_extra.py"] is Action.CREATE
    assert "version one of the docstring" in (generated / MODULE).read_text()
    assert update(generated, v2)[MODULE] is Action.UPDATE


def test_an_interrupted_update_is_finished_by_the_next_command(
    generated: Path, v2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(generated, MODULE, "LIMIT = 3\n", "LIMIT = 3\nMINE = 1\n")
    plan = plan_update(generated, v2)
    staged = [w for w in plan.writes() if w.data is not None]
    assert len(staged) >= 3
    # The journal's commit is the first replace, then each staged file's.
    midway = 2 + len(staged) // 2
    real_replace = os.replace
    calls = 0

    def interrupted(src: str, dst: str) -> None:
        nonlocal calls
        calls += 1
        if calls == midway:
            raise SystemExit("killed")  # the process dies midway through the commit
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(SystemExit):
        apply_plan(plan)
    monkeypatch.setattr(os, "replace", real_replace)
    again = plan_update(generated, v2)  # finishes the interrupted run first
    assert any("finished an interrupted `otpgen update`" in note for note in again.notes)
    assert again.writes() == []
    text = (generated / MODULE).read_text()
    assert "version two of the docstring" in text
    assert "MINE = 1" in text
    assert failing(check(generated, v2)) == {}


def test_update_refuses_to_run_over_unresolved_conflict_markers(generated: Path, v2: Path) -> None:
    edit(generated, MODULE, "version one of the docstring", "my own docstring")
    update(generated, v2)
    before = snapshot(generated)
    with pytest.raises(OtpgenError, match="still has conflict markers"):
        plan_update(generated, v2)
    assert snapshot(generated) == before


def test_update_outside_an_otpgen_project_says_so(project: Path, v1: Path) -> None:
    with pytest.raises(OtpgenError, match="nothing to update"):
        plan_update(project, v1)


def test_check_passes_when_up_to_date_and_edits_are_not_a_failure(
    generated: Path, v1: Path
) -> None:
    edit(generated, MODULE, "return helper(3)", "return helper(3) + 1")
    findings = check(generated, v1)
    assert failing(findings) == {}
    assert [(f.path, f.cause) for f in findings] == [(MODULE, "edited by you")]


def test_check_fails_with_the_reason_per_file_when_templates_changed(
    generated: Path, v2: Path
) -> None:
    problems = failing(check(generated, v2))
    assert problems[MODULE] == "the worker template changed (v1 -> v2)"
    assert problems["src/demo/otp/_extra.py"] == "new in the kernel templates"
    assert problems["src/demo/otp/_legacy.py"] == "dropped from the kernel templates"
    update(generated, v2)
    assert check(generated, v2) == []


def test_check_fails_on_conflict_markers(generated: Path, v2: Path) -> None:
    edit(generated, MODULE, "version one of the docstring", "my own docstring")
    update(generated, v2)
    assert failing(check(generated, v2)) == {MODULE: "conflict markers left"}


def test_a_template_override_is_used_and_reported_when_what_it_shadows_changes(
    project: Path, v1: Path, v2: Path
) -> None:
    override = project / ".otpgen/templates/patterns/worker/module.py.j2"
    override.parent.mkdir(parents=True)
    override.write_text(V1_MODULE.replace("Double it.", "Double it, our way."))
    apply_plan(plan_new(NewRequest(pattern="worker", name="job", cwd=project), v1))
    assert "Double it, our way." in (project / MODULE).read_text()
    shadows = json.loads((project / ".otpgen/manifest.json").read_text())["renders"]
    assert list(shadows["worker:job"]["shadows"]) == ["patterns/worker/module.py.j2"]
    assert check(project, v1) == []
    problems = failing(check(project, v2))
    assert problems[".otpgen/templates/patterns/worker/module.py.j2"] == (
        "overrides a shipped template that changed since"
    )
    plan = plan_update(project, v2)
    assert plan.notes == [
        "review .otpgen/templates/patterns/worker/module.py.j2: the shipped template it "
        "overrides changed"
    ]
    apply_plan(plan)
    assert "Double it, our way." in (project / MODULE).read_text()  # the override still rules
