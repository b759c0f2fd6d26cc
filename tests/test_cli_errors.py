"""Every bad input ends as one `error:` line, exit status 2, and nothing written."""

import shutil
from pathlib import Path

import pytest
from clikit import otpgen, shop_project

OVERRIDE = ".otpgen/templates/patterns/genserver/module.py.j2"


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under `root`."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }


def refused(root: Path, *args: str, cwd: Path | None = None) -> str:
    """Run otpgen ARGS in `root`; assert one error line, exit 2 and an unchanged tree."""
    before = snapshot(root)
    result = otpgen(*args, cwd=cwd or root)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "internal error" not in lines[0]
    assert snapshot(root) == before
    return lines[0]


@pytest.fixture(scope="module")
def made_service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("made")
    result = otpgen("init", "shop", "--no-input", cwd=parent)
    assert result.returncode == 0, result.stderr
    return parent / "shop"


@pytest.fixture
def service(made_service: Path, tmp_path: Path) -> Path:
    """A fresh copy of a service made by `otpgen init shop`."""
    return Path(shutil.copytree(made_service, tmp_path / "shop", symlinks=True))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("__", "'__' has no letters to make its class name from"),
        ("_", "'_' has no letters"),
        ("_0", "'_0' would name its class 0, which is not a Python identifier"),
        ("none", "'none' would name its class None, a Python keyword"),
        ("true", "'true' would name its class True, a Python keyword"),
        ("exception", "'exception' would name its class Exception, which shadows a Python"),
    ],
)
def test_a_name_without_a_usable_class_is_refused(service: Path, name: str, problem: str) -> None:
    assert problem in refused(service, "new", "genserver", name)


def test_an_empty_package_option_is_refused(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    assert "expected a dotted package name" in refused(
        root, "new", "genserver", "x", "--package", ""
    )


def test_src_dot_package_is_refused_with_the_import_path_to_use(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    line = refused(root, "new", "genserver", "orders", "--package", "src.shop")
    assert "package 'src.shop' not found" in line
    assert "pass --package shop" in line


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[tool]\notpgen = "x"\n', "expected [tool.otpgen] to be a table, got: 'x'"),
        ("tool = 3\n", "expected [tool] to be a table, got: 3"),
    ],
)
def test_a_tool_table_of_the_wrong_shape_is_refused(
    tmp_path: Path, toml: str, problem: str
) -> None:
    root = shop_project(tmp_path)
    (root / "pyproject.toml").write_text(toml + '[project]\nname = "shop"\n')
    line = refused(root, "new", "genserver", "orders")
    assert "pyproject.toml: " in line
    assert problem in line


def test_a_pyproject_that_is_not_toml_is_refused_even_with_a_package(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\n[tool.ruff\n')
    line = refused(root, "new", "genserver", "orders", "--package", "shop")
    assert "pyproject.toml is not valid TOML: " in line


def test_a_pyproject_that_is_not_utf8_is_named_not_quoted(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    (root / "pyproject.toml").write_bytes(b'[project]\nname = "sh\xffop"\n')
    line = refused(root, "new", "genserver", "orders")
    assert line.endswith(
        "pyproject.toml is not UTF-8 text (invalid byte at offset 20); save it as UTF-8"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"{{ banner }}\n{{ class_name }\n", OVERRIDE + ":2: unexpected '}'"),
        (b"{{ banner }}\n\n{{ nope }}\n", OVERRIDE + ":3: 'nope' is undefined"),
        (b"{{ 1 / 0 }}\n", OVERRIDE + ":1: ZeroDivisionError: division by zero"),
        (b"# \xff\n", OVERRIDE + " is not UTF-8 text (invalid byte at offset 2)"),
        (
            b"{{ banner }}\ndef (:\n",
            "the rendered code is not valid Python: src/shop/orders.py:4:5: ",
        ),
    ],
)
def test_a_broken_template_override_is_named(service: Path, text: bytes, problem: str) -> None:
    (service / OVERRIDE).parent.mkdir(parents=True)
    (service / OVERRIDE).write_bytes(text)
    line = refused(service, "new", "genserver", "orders")
    assert line.startswith(f"error: {problem}"), line


# Checks made by plan_new and plan_update.


def test_a_name_whose_class_an_earlier_module_defines_is_refused(service: Path) -> None:
    assert otpgen("new", "genserver", "chat", cwd=service).returncode == 0
    line = refused(service, "new", "genserver", "chat_")
    assert "chat_ would be class Chat, which chat already defines; choose another name" in line


@pytest.mark.parametrize(
    ("args", "clash"),
    [
        (["cache", "boom"], "'boom' would define Boom twice in tests/test_boom.py"),
        (["cache", "d"], "'d' would define D twice in src/shop/d.py"),
        (["rate-limiter", "fake_clock"], "FakeClock twice in tests/test_fake_clock.py"),
        (["supervisor", "stand_in"], "StandIn twice in tests/test_stand_in.py"),
        (["web", "tree_collector"], "TreeCollector twice in src/shop/tree_collector.py"),
        (
            ["genserver", "counting_restore", "--set", "with_continue=true"],
            "CountingRestore twice in tests/test_counting_restore.py",
        ),
    ],
)
def test_a_name_that_would_redefine_a_helper_of_the_generated_code_is_refused(
    service: Path, args: list[str], clash: str
) -> None:
    line = refused(service, "new", *args, "--no-input")
    assert clash in line
    assert line.endswith("of its own; choose another name")


def test_a_package_directory_that_would_shadow_the_module_is_refused(service: Path) -> None:
    (service / "src/shop/orders").mkdir()
    line = refused(service, "new", "genserver", "orders")
    assert "src/shop/orders/ exists: a package there would shadow orders.py" in line


def test_an_application_py_that_is_not_utf8_is_named_when_wiring(service: Path) -> None:
    with (service / "src/shop/application.py").open("ab") as file:
        file.write(b"# \xff\n")
    line = refused(service, "new", "genserver", "orders")
    assert "src/shop/application.py is not UTF-8 text (invalid byte at offset" in line


def test_a_generated_file_that_is_not_utf8_is_named_by_update(service: Path) -> None:
    assert otpgen("new", "genserver", "chat", cwd=service).returncode == 0
    with (service / "src/shop/chat.py").open("ab") as file:
        file.write(b"# \xff\n")
    line = refused(service, "update")
    assert "src/shop/chat.py is not UTF-8 text (invalid byte at offset" in line
