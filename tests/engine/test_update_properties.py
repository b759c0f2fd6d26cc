"""Property: whatever the user edited and however the templates changed, `update` never
drops a line the user wrote silently. Either every line the user added is in the result,
or the file is reported as a conflict with both the user's and the template's lines in it."""

from pathlib import PurePosixPath

from hypothesis import given, settings
from hypothesis import strategies as st

from otpgen._manifest import FileRecord, digest
from otpgen._plan import Action, Change
from otpgen._update import _decide

BASE = [f"line {i}\n" for i in range(12)]


@st.composite
def edits(draw: st.DrawFn, tag: str) -> list[str]:
    """Random inserts, deletes and replacements of lines; new lines are unique to `tag`."""
    lines = list(BASE)
    for n in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        fresh = f"{tag} {n}\n"
        if kind == "insert" or not lines:
            lines.insert(at, fresh)
        elif kind == "delete":
            del lines[at]
        else:
            lines[at] = fresh
    return lines


def decide(base: str, disk: str, new: str, *, rej: bool) -> Change:
    record = FileRecord(digest(base), "source")
    return _decide(
        PurePosixPath("m.py"),
        record,
        base,
        disk,
        new,
        "source2",
        label="new",
        rej=rej,
        restore_deleted=False,
    ).change


@settings(max_examples=300, deadline=None)
@given(ours=edits("user"), theirs=edits("template"))
def test_user_lines_are_kept_or_reported_as_a_conflict_with_both_sides(
    ours: list[str], theirs: list[str]
) -> None:
    base, disk, new = "".join(BASE), "".join(ours), "".join(theirs)
    result = decide(base, disk, new, rej=False)
    assert result.new is not None
    mine = [line for line in ours if line.startswith("user")]
    if result.action is Action.CONFLICT:
        assert "<<<<<<< " in result.new
        assert all(line in result.new for line in mine)
        assert all(line in result.new for line in theirs if line.startswith("template"))
    else:
        assert result.action in {Action.KEEP, Action.UPDATE, Action.MERGE}
        assert all(line in result.new for line in mine), (result.action, result.new)
        if disk != base:  # edited: the template's own new lines come in too, unless deleted
            assert result.action is not Action.UPDATE


@settings(max_examples=100, deadline=None)
@given(ours=edits("user"), theirs=edits("template"))
def test_with_rej_the_users_file_is_never_touched_on_conflict(
    ours: list[str], theirs: list[str]
) -> None:
    base, disk, new = "".join(BASE), "".join(ours), "".join(theirs)
    result = decide(base, disk, new, rej=True)
    if result.action is Action.CONFLICT:
        assert result.new == disk
        assert result.reject == new
