"""Bad input in the project, its configuration or its templates: one precise OtpgenError."""

import re
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otpgen._errors import OtpgenError
from otpgen._files import read_text, read_toml
from otpgen._format import format_tree, formatter_fingerprint, ruff_config
from otpgen._patterns import load_patterns
from otpgen._project import open_project, shadowing_package
from otpgen._render import Answers, render_pattern

# -- files ---------------------------------------------------------------------------------


@given(st.text(max_size=40), st.binary(max_size=40))
def test_a_file_that_is_not_utf8_is_named_with_its_bad_offset_and_never_quoted(
    tmp_path_factory: pytest.TempPathFactory, head: str, tail: bytes
) -> None:
    root = tmp_path_factory.mktemp("files")
    (root / "src").mkdir()
    (root / "src" / "a.py").write_bytes(head.encode() + b"\xff" + tail)  # 0xff: never UTF-8
    with pytest.raises(OtpgenError) as caught:
        read_text(root / "src" / "a.py", root=root)
    assert str(caught.value) == (
        f"src/a.py is not UTF-8 text (invalid byte at offset {len(head.encode())}); "
        "save it as UTF-8"
    )


def test_a_missing_file_reads_as_none(tmp_path: Path) -> None:
    assert read_text(tmp_path / "nothing.py") is None
    assert read_toml(tmp_path / "nothing.toml") is None


# -- the project ---------------------------------------------------------------------------


def test_an_empty_package_option_is_an_error_not_detection(project: Path) -> None:
    with pytest.raises(OtpgenError, match="expected a dotted package name"):
        open_project(project, "")


def test_src_is_not_part_of_a_src_layout_packages_import_path(project: Path) -> None:
    with pytest.raises(OtpgenError, match="not part of the import path: pass --package demo"):
        open_project(project, "src.demo")


def test_a_namespace_parent_package_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "acme"\n')
    (tmp_path / "src" / "acme" / "billing").mkdir(parents=True)
    (tmp_path / "src" / "acme" / "billing" / "__init__.py").write_text("")
    found = open_project(tmp_path, "acme.billing")  # acme/ is a PEP 420 namespace package
    assert found.package_dir == PurePosixPath("src/acme/billing")
    with pytest.raises(OtpgenError, match=re.escape("pass --package acme.billing")):
        open_project(tmp_path, "src.acme.billing")


def test_a_keyword_is_not_a_package_name(project: Path) -> None:
    with pytest.raises(OtpgenError, match="expected a dotted package name"):
        open_project(project, "demo.class")


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[tool]\notpgen = "x"\n', "[tool.otpgen]"),
        ("tool = 3\n", "[tool]"),
        ('[tool.otpgen]\npackage = ""\n', "[tool.otpgen] package"),
    ],
)
def test_a_tool_otpgen_setting_of_the_wrong_shape_is_named(
    project: Path, toml: str, key: str
) -> None:
    (project / "pyproject.toml").write_text(toml + '[project]\nname = "demo"\n')
    with pytest.raises(OtpgenError, match=re.escape(key)):
        open_project(project)


def test_a_directory_beside_the_module_would_shadow_it(project: Path) -> None:
    found = open_project(project)
    assert shadowing_package(found, "orders") is None
    (project / "src" / "demo" / "orders").mkdir()
    assert shadowing_package(found, "orders") == PurePosixPath("src/demo/orders")


# -- formatting ----------------------------------------------------------------------------


def test_a_pyproject_that_is_not_toml_stops_formatting(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.ruff\nline-length = 100\n")
    with pytest.raises(OtpgenError, match=r"pyproject\.toml is not valid TOML: .*line 1"):
        format_tree({PurePosixPath("src/demo/a.py"): "x = 1\n"}, project)


def test_a_syntax_error_is_ruffs_first_diagnostic_with_the_project_path(project: Path) -> None:
    tree = {
        PurePosixPath("src/demo/fine.py"): "x = 1\n",
        PurePosixPath("src/demo/broken.py"): '"""Doc."""\n\ndef (:\n    pass\n',
    }
    with pytest.raises(OtpgenError) as caught:
        format_tree(tree, project)
    message = str(caught.value)
    assert re.fullmatch(
        r"the rendered code is not valid Python: src/demo/broken\.py:3:5: [^\n]+", message
    ), message
    assert "otpgen-" not in message  # not the temporary directory


def test_a_ruff_configuration_ruff_refuses_is_one_line_without_snippets(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("line-length = 100", 'line-length = "x"'))
    with pytest.raises(OtpgenError) as caught:
        format_tree({PurePosixPath("src/demo/a.py"): "x = 1\n"}, project)
    message = str(caught.value)
    assert message.startswith("ruff failed: ")
    assert "\n" not in message
    assert "?" not in message
    assert "|" not in message


def test_the_formatter_fingerprint_names_ruff_and_hashes_its_configuration(
    project: Path,
) -> None:
    first = formatter_fingerprint(project)
    assert re.fullmatch(r"ruff \d+\.\d+\.\d+, config pyproject\.toml sha256:[0-9a-f]{12}", first)
    assert formatter_fingerprint(project) == first
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('name = "demo"', 'name = "demo2"'))
    assert formatter_fingerprint(project) == first  # not a ruff setting
    pyproject.write_text(pyproject.read_text().replace("line-length = 100", "line-length = 90"))
    assert formatter_fingerprint(project) != first


def test_the_formatter_fingerprint_without_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert ruff_config(tmp_path) is None
    assert re.fullmatch(r"ruff \d+\.\d+\.\d+, no config", formatter_fingerprint(tmp_path))


# -- templates -----------------------------------------------------------------------------

OVERRIDE = ".otpgen/templates/patterns/demo/module.py.j2"


def _render(templates: Path, project: Path) -> None:
    pattern = load_patterns(templates)["demo"]
    answers = Answers("demo", "chat", "Chat", "demo", pattern.resolve({}))
    render_pattern(pattern, answers, PurePosixPath("src/demo"), project / ".otpgen/templates")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"line one\n{{ class_name }\n", OVERRIDE + ":2: unexpected '}'"),
        (b"one\ntwo\n{{ nothing_here }}\n", OVERRIDE + ":3: 'nothing_here' is undefined"),
        (b"{{ 1 / 0 }}\n", OVERRIDE + ":1: ZeroDivisionError: division by zero"),
        (b"\n{{ [] | first }}\n", OVERRIDE + ":2: No first item, sequence was empty."),
        (b'{% include "missing.j2" %}\n', OVERRIDE + ":1: template not found: missing.j2"),
        (b"# caf\xe9\n", OVERRIDE + " is not UTF-8 text (invalid byte at offset 5); save it"),
    ],
)
def test_a_broken_override_is_named_from_the_project_root_with_its_line(
    templates: Path, project: Path, text: bytes, expected: str
) -> None:
    (project / OVERRIDE).parent.mkdir(parents=True)
    (project / OVERRIDE).write_bytes(text)
    with pytest.raises(OtpgenError) as caught:
        _render(templates, project)
    assert str(caught.value).startswith(expected), str(caught.value)


def test_a_broken_shipped_template_names_the_shipped_file(templates: Path, project: Path) -> None:
    shipped = templates / "patterns" / "demo" / "test_module.py.j2"
    shipped.write_text("{{ banner }}\n{{ missing }}\n")
    with pytest.raises(OtpgenError, match=re.escape(f"{shipped}:2: 'missing' is undefined")):
        _render(templates, project)


def test_a_pattern_toml_without_a_version_is_named(templates: Path) -> None:
    where = templates / "patterns" / "demo" / "pattern.toml"
    where.write_text(where.read_text().replace("version = 1\n", ""))
    with pytest.raises(OtpgenError, match=re.escape(f"{where} is not a valid pattern")):
        load_patterns(templates)


def test_an_override_of_only_the_test_template_is_the_one_rendered(
    templates: Path, project: Path
) -> None:
    override = project / ".otpgen/templates/patterns/demo/test_module.py.j2"
    override.parent.mkdir(parents=True)
    override.write_text("# overridden test for {{ class_name }}\n")
    pattern = load_patterns(templates)["demo"]
    answers = Answers("demo", "chat", "Chat", "demo", pattern.resolve({}))
    tree = render_pattern(pattern, answers, PurePosixPath("src/demo"), override.parents[2])
    assert tree[PurePosixPath("tests/test_chat.py")] == "# overridden test for Chat\n"
    assert tree[PurePosixPath("src/demo/chat.py")].startswith("# Generated by otpgen")
