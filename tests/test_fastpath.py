"""The fast path parses plain `new`, `update` and `check` command lines without typer; it
must accept exactly what typer accepts and do exactly what the typer application does."""

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from clikit import otpgen, shop_project
from hypothesis import given, settings
from hypothesis import strategies as st

from otpgen import _entry, _fastpath
from otpgen._cli import app


def click_command(name: str) -> typer.core.TyperCommand:
    group = typer.main.get_command(app)
    return group.commands[name]  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("name", sorted(_fastpath.SPECS))
def test_the_tables_match_the_typer_application(name: str) -> None:
    spec = _fastpath.SPECS[name]
    arguments, flags, values, multiple, choices, defaults = [], {}, {}, set(), {}, {}
    for param in click_command(name).params:
        if param.param_type_name == "argument":
            arguments.append((param.name, param.required, param.nargs))
            continue
        for opt in param.opts:
            if opt == "--help":
                continue
            if param.is_flag:  # type: ignore[attr-defined]
                flags[opt] = param.name
            else:
                values[opt] = param.name
                if param.multiple:
                    multiple.add(opt)
                if hasattr(param.type, "choices"):
                    choices[opt] = tuple(param.type.choices)
                if isinstance(param.default, str):
                    defaults[opt] = param.default
        assert not param.secondary_opts, f"{param.name}: --no-x forms are not in the tables"
    expected_arguments = [
        (arg, -1 if spec.variadic and index == len(spec.arguments) - 1 else 1)
        for index, arg in enumerate(spec.arguments)
    ]
    assert [(arg, nargs) for arg, _, nargs in arguments] == expected_arguments
    # The fast path may require more than typer (a command line without them is left to
    # typer, which asks for a missing PATTERN on a terminal), never less.
    typer_required = sum(required for _, required, _ in arguments)
    assert [required for _, required, _ in arguments] == [
        index < typer_required for index in range(len(arguments))
    ]
    assert spec.required >= typer_required
    assert flags == spec.flags
    assert values == spec.values
    assert multiple == set(spec.multiple)
    assert choices == spec.choices
    assert defaults == spec.defaults


@pytest.mark.parametrize(
    "args",
    [
        ["new", "--help"],
        ["new", "-h"],
        ["new"],
        ["new", "a", "b", "c"],
        ["new", "genserver", "--format", "xml"],
        ["new", "genserver", "--set"],
        ["new", "genserver", "--dry-run=yes"],
        ["new", "genserver", "--nope"],
        ["new", "genserver", "-"],
        ["check", "extra"],
        ["update", "--conflict", "both"],
    ],
)
def test_unusual_command_lines_are_left_to_typer(args: list[str]) -> None:
    assert _fastpath.parse(args) is None


def test_plain_command_lines_are_parsed_as_click_would() -> None:
    parsed = _fastpath.parse(
        ["new", "--set", "a=1", "genserver", "--set=b=2", "--format=json", "inv", "--dry-run"]
    )
    assert parsed is not None
    command, params = parsed
    assert command == "new"
    assert params["pattern"] == "genserver"
    assert params["name"] == "inv"
    assert params["set_"] == ["a=1", "b=2"]
    assert params["format"] == "json"
    assert params["dry_run"] is True
    assert params["force"] is False
    assert _fastpath.parse(["update", "--", "--odd-path", "src"]) == (
        "update",
        {
            "dry_run": False,
            "restore_deleted": False,
            "conflict": "markers",
            "format": "text",
            "paths": ["--odd-path", "src"],
        },
    )


def both_ways(args: list[str], project: Path, tmp_path: Path) -> list[tuple[object, ...]]:
    """Run `args` through the fast path and through typer, each in its own copy of the
    project; what each printed, its exit status and the tree it left."""
    results = []
    for way in ("fast", "typer"):
        work = tmp_path / way
        shutil.copytree(project, work)
        out, err = io.StringIO(), io.StringIO()
        with (
            contextlib.chdir(work),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            if way == "fast":
                parsed = _fastpath.parse(args)
                assert parsed is not None, args
                code = _fastpath.run(*parsed)
            else:
                code = _entry._typer(args)
        tree = {
            p.relative_to(work).as_posix(): p.read_bytes()
            for p in sorted(work.rglob("*"))
            if p.is_file()
        }
        text = out.getvalue().replace(str(work), "ROOT"), err.getvalue().replace(str(work), "ROOT")
        results.append((code or 0, *text, tree))
    return results


@pytest.mark.parametrize(
    "args",
    [
        ["new", "genserver", "inventory", "--no-input"],
        ["new", "cache", "prices", "--set", "sweeper=false", "--no-input", "--format", "json"],
        ["new", "agent", "--dry-run", "--no-input"],
        ["new", "task", "jobs", "--stdout"],
        ["new", "genserver", "Bad", "--no-input"],
        ["new", "genserver", "x", "--set", "nope=1", "--no-input"],
        ["new", "nosuchpattern", "--no-input"],
        ["check"],
        ["check", "--format", "json"],
        ["update", "--dry-run"],
        ["update", "--format", "json"],
        ["update", "missing/path"],
    ],
)
def test_the_fast_path_does_what_typer_does(args: list[str], tmp_path: Path, service: Path) -> None:
    fast, slow = both_ways(args, service, tmp_path)
    assert fast == slow


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("svc")
    assert otpgen("init", "shop", "--no-input", cwd=base).returncode == 0
    root = base / "shop"
    assert otpgen("new", "agent", "hits", "--no-input", cwd=root).returncode == 0
    return root


def test_new_on_the_fast_path_does_not_import_typer(tmp_path: Path) -> None:
    project = shop_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "otpgen", "new", "agent", "--no-input"],
        cwd=project,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=True,
    )
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert "typer" not in modules
    assert (project / "src/shop/agent.py").is_file()


TOKENS = [
    "genserver",
    "cache",
    "inv",
    "a b",
    "-",
    "--",
    "-h",
    "--help",
    "--dry-run",
    "--dry-run=1",
    "--force",
    "--overwrite-edited",
    "--stdout",
    "--no-input",
    "--no-wire",
    "--package",
    "--package=shop",
    "--set",
    "--set=a=1",
    "restart=transient",
    "--format",
    "--format=json",
    "json",
    "text",
    "xml",
    "--conflict",
    "--conflict=rej",
    "markers",
    "--restore-deleted",
    "src",
    "--nope",
    "-x",
]


@settings(max_examples=400, deadline=None)
@given(
    command=st.sampled_from(sorted(_fastpath.SPECS)),
    words=st.lists(st.sampled_from(TOKENS), max_size=7),
)
def test_whatever_the_fast_path_accepts_click_parses_the_same(
    command: str, words: list[str]
) -> None:
    parsed = _fastpath.parse([command, *words])
    if parsed is None:
        return  # typer takes it: nothing to compare
    _, params = parsed
    with click_command(command).make_context(command, list(words)) as context:
        expected = dict(context.params)
    expected = {
        key: (
            [str(v) for v in value]
            if isinstance(value, list | tuple)
            else str(value.value if hasattr(value, "value") else value)
            if value is not None and not isinstance(value, bool)
            else value
        )
        for key, value in expected.items()
    }
    if expected.get("set_") is None and "set_" in params:
        expected["set_"] = []
    if expected.get("paths") is None and "paths" in params:
        expected["paths"] = []
    assert params == expected
