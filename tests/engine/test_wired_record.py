"""The manifest records what otpgen itself added to a generated file (`FileRecord.wired`)."""

from pathlib import PurePosixPath

import pytest

from otpgen._errors import OtpgenError
from otpgen._manifest import FileRecord, RenderRecord, _record, digest, record_wired

RENDER = "children = []\n"
WIRED = "from shop import inventory\n\nchildren = [inventory.child_spec()]\n"


def test_a_file_as_rendered_or_as_otpgen_wired_it_is_as_written() -> None:
    record = FileRecord(digest(RENDER)).with_wired(RENDER, WIRED)
    assert record.wired == digest(WIRED)
    assert record.as_written(RENDER)
    assert record.as_written(WIRED)
    assert not record.as_written(WIRED + "# mine\n")


def test_wiring_a_file_the_user_edited_records_nothing_as_otpgens() -> None:
    record = FileRecord(digest(RENDER)).with_wired(RENDER + "# mine\n", WIRED + "# mine\n")
    assert record.wired is None
    assert not record.as_written(WIRED + "# mine\n")


def test_unwiring_back_to_the_render_leaves_no_wired_hash() -> None:
    record = FileRecord(digest(RENDER)).with_wired(RENDER, WIRED).with_wired(WIRED, RENDER)
    assert record.wired is None
    assert record.as_written(RENDER)


def test_the_wired_hash_survives_the_manifests_json_and_is_checked() -> None:
    record = FileRecord(digest(RENDER), "s" * 64).with_wired(RENDER, WIRED)
    assert _record(record.to_json(), "here") == record
    with pytest.raises(OtpgenError, match="damaged"):
        _record({**record.to_json(), "wired": "not a hash"}, "here")
    # a record without it (every manifest before this one) reads as before
    assert _record({"sha": digest(RENDER), "source": None}, "here").wired is None


def test_only_the_render_that_wrote_the_path_changes() -> None:
    app = "src/shop/application.py"
    renders = {
        "application": RenderRecord("application", "1", {}, {app: FileRecord(digest(RENDER))}),
        "kernel": RenderRecord(
            "kernel", "1", {}, {"src/shop/otp/__init__.py": FileRecord("a" * 64)}
        ),
    }
    after = record_wired(renders, PurePosixPath(app), RENDER, WIRED)
    assert after["application"].files[app].wired == digest(WIRED)
    assert after["kernel"] == renders["kernel"]
    assert renders["application"].files[app].wired is None  # the input is not changed
    assert record_wired(renders, PurePosixPath("pyproject.toml"), "a", "b") == renders
