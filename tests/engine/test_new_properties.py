"""Property: whatever NAME and option values a user types, `otpgen new` either writes the
module inside the project or prints one line saying what is wrong, exits 2 and writes
nothing. Never a traceback, never a write outside the project root."""

import contextlib
import io
import shutil
from dataclasses import dataclass

import pytest
from enginekit import snapshot
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from otpgen._entry import _typer


@dataclass(frozen=True)
class Result:
    exit_code: int | str
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


valid_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
names = st.one_of(
    valid_names,
    valid_names,
    st.text(min_size=0, max_size=20),
    st.sampled_from(["../up", "a/b", "..", "/abs", "class", "list", "os", "otp", "9x", "ü"]),
)
valid_settings = st.sampled_from(
    [("restart", "transient"), ("shutdown", "2.5"), ("with_continue", "false")]
)
any_settings = st.tuples(
    st.sampled_from(["restart", "shutdown", "with_continue", "nope", "", "a=b"]),
    st.one_of(st.text(max_size=12), st.sampled_from(["-1", "0", "1e9", "nan", "inf", "yes"])),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=names, setting=st.one_of(valid_settings, any_settings))
def test_new_writes_inside_the_project_or_fails_cleanly(
    tmp_path_factory: pytest.TempPathFactory, name: str, setting: tuple[str, str]
) -> None:
    key, value = setting
    outer = tmp_path_factory.mktemp("outer")
    project = outer / "project"
    (project / "src" / "shop").mkdir(parents=True)
    (project / "src" / "shop" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    (outer / "sentinel.py").write_text("x = 1\n")
    before = snapshot(outer)
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.chdir(project),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = _typer(["new", "genserver", name, "--set", f"{key}={value}", "--no-input"])
    after = snapshot(outer)
    result = Result(code or 0, out.getvalue(), err.getvalue())
    try:
        assert "Traceback" not in result.output
        outside = {p for p in set(before) | set(after) if not p.startswith("project/")}
        assert all(before.get(p) == after.get(p) for p in outside)
        event("written" if result.exit_code == 0 else "refused")
        if result.exit_code == 0:
            assert any(p.startswith("project/src/shop/") for p in set(after) - set(before))
        else:
            assert result.exit_code == 2, result.output
            assert after == before
            assert result.stderr.startswith("error: ")
            assert result.stderr.count("\n") == 1
    finally:
        shutil.rmtree(outer)
