"""A damaged manifest is an error line, never an internal error: every part of a valid
manifest replaced by any JSON value makes `check` and `update` either work or say what is
wrong with `.otpgen/manifest.json`, and write nothing outside the project."""

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otpgen._errors import OtpgenError
from otpgen._manifest import FORMAT
from otpgen._update import check, plan_update

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths_in(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths_in(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths_in(value, (*prefix, index))
    return found


def replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = replaced(data[path[0]], path[1:], value)  # type: ignore[index]
    return copy


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_damaged_manifest_is_an_error_line_or_works(
    generated: Path, v1: Path, data: st.DataObject
) -> None:
    path = generated / ".otpgen/manifest.json"
    original = json.loads(path.read_text())
    where = data.draw(st.sampled_from(paths_in(original)))
    value = data.draw(json_values)
    path.write_text(json.dumps(replaced(original, where, value)))
    try:
        for command in (check, plan_update):
            with contextlib.suppress(OtpgenError):
                command(generated, v1)
    finally:
        path.write_text(json.dumps(original))


def test_a_manifest_of_a_newer_format_is_refused_not_half_read(generated: Path, v1: Path) -> None:
    path = generated / ".otpgen/manifest.json"
    original = json.loads(path.read_text())
    assert original["format"] == FORMAT
    path.write_text(json.dumps({**original, "format": FORMAT + 1}))
    try:
        for command in (check, plan_update):
            with pytest.raises(OtpgenError, match=r"newer otpgen .*upgrade otpgen"):
                command(generated, v1)
    finally:
        path.write_text(json.dumps(original))
    assert check(generated, v1) == []
