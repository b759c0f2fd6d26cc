"""`--format json` output follows the JSON Schema files otpgen ships in
`otpgen/schemas/`: every command that has the option, in every kind of result (a dry run,
a write, nothing to do, conflicts, a failing check)."""

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from clikit import otpgen
from jsonschema import Draft202012Validator

from otpgen._patterns import load_patterns
from otpgen._templates import templates_dir

NAMES = ("report", "check", "list", "show", "advise", "observe")


def schema(name: str) -> dict[str, Any]:
    text = resources.files("otpgen").joinpath("schemas", f"{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def valid(name: str, stdout: str) -> Any:
    data = json.loads(stdout)
    Draft202012Validator(schema(name)).validate(data)
    return data


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    Draft202012Validator.check_schema(schema(name))


def test_a_schema_rejects_what_it_does_not_describe() -> None:
    validator = Draft202012Validator(schema("check"))
    assert validator.is_valid({"ok": True, "findings": []})
    assert not validator.is_valid({"ok": True, "findings": [], "extra": 1})
    assert not validator.is_valid({"ok": "yes", "findings": []})


def test_list_and_show_follow_their_schemas() -> None:
    listed = valid("list", otpgen("list", "--format", "json").stdout)
    assert [p["name"] for p in listed] == list(load_patterns(templates_dir()))
    for name in load_patterns(templates_dir()):
        shown = otpgen("show", name, "--format", "json")
        assert shown.returncode == 0, shown.stderr
        assert valid("show", shown.stdout)["name"] == name


@pytest.mark.parametrize(
    "flags",
    [
        ["--one-off"],
        ["--no-one-off", "--no-state"],
        ["--no-one-off", "--state", "--per-key"],
    ],
)
def test_advise_follows_its_schema(flags: list[str]) -> None:
    result = otpgen("advise", *flags, "--format", "json")
    assert result.returncode == 0, result.stderr
    valid("advise", result.stdout)


def test_init_new_update_and_check_follow_their_schemas(tmp_path: Path) -> None:
    made = otpgen("init", "shop", "--no-input", "--format", "json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert valid("report", made.stdout)["command"] == "init"
    shop = tmp_path / "shop"

    preview = otpgen("new", "cache", "--format", "json", "--dry-run", cwd=shop)
    assert valid("report", preview.stdout)["dry_run"] is True
    added = otpgen("new", "cache", "--format", "json", cwd=shop)
    assert valid("report", added.stdout)["options"]["ttl"] == 300.0

    same = otpgen("update", "--format", "json", cwd=shop)
    assert (same.returncode, valid("report", same.stdout)["conflicts"]) == (0, [])
    checked = otpgen("check", "--format", "json", cwd=shop)
    assert (checked.returncode, valid("check", checked.stdout)["ok"]) == (0, True)

    dropped = otpgen("remove", "cache", "cache", "--format", "json", "--dry-run", cwd=shop)
    assert dropped.returncode == 0, dropped.stderr
    assert valid("report", dropped.stdout)["command"] == "remove"

    module = shop / "src/shop/cache.py"
    module.write_text(module.read_text() + "<<<<<<< yours\nA = 1\n=======\nA = 2\n>>>>>>> new\n")
    failing = otpgen("check", "--format", "json", cwd=shop)
    assert (failing.returncode, valid("check", failing.stdout)["ok"]) == (1, False)
