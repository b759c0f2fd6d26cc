"""Module names: every accepted name makes a class that can be written, and clashes are found."""

import builtins
import keyword
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otpgen._errors import OtpgenError
from otpgen._names import clash_message, class_clash, class_name, module_name

REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

names = st.text(alphabet="abnoeutr_019-", min_size=1, max_size=12)


@given(names)
def test_every_accepted_name_makes_a_class_name_python_can_define(raw: str) -> None:
    try:
        name = module_name(raw)
    except OtpgenError:
        return
    cls = class_name(name)
    assert cls.isidentifier()
    assert not keyword.iskeyword(cls)
    assert not hasattr(builtins, cls)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("__", "no letters"),
        ("_", "no letters"),
        ("_0", "class 0, which is not a Python identifier"),
        ("none", "class None, a Python keyword"),
        ("true", "class True, a Python keyword"),
        ("false", "class False, a Python keyword"),
        ("exception", "class Exception, which shadows a Python builtin"),
        ("type_error", "class TypeError, which shadows a Python builtin"),
    ],
)
def test_a_name_without_a_usable_class_name_is_refused(raw: str, problem: str) -> None:
    with pytest.raises(OtpgenError, match=re.escape(problem)):
        module_name(raw)


@pytest.mark.parametrize(
    ("raw", "cls"), [("a__", "A"), ("foo_", "Foo"), ("_chat", "Chat"), ("a__0b", "A0b")]
)
def test_repeated_leading_or_trailing_underscores_are_allowed(raw: str, cls: str) -> None:
    assert class_name(module_name(raw)) == cls


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def test_no_name_makes_a_class_that_a_shipped_template_imports() -> None:
    imported: set[str] = set()
    for template in REPO_TEMPLATES.glob("patterns/*/*.j2"):
        for line in template.read_text(encoding="utf-8").splitlines():
            if match := re.match(r"from [\w.]+ import (.+)", line):
                plain = re.sub(r"\{%.*?%\}", "", match.group(1))
                imported |= {n.strip() for n in plain.split(",") if n.strip()[:1].isupper()}
    assert imported  # the scan found the typing and collections.abc names
    for cls in sorted(imported):
        with pytest.raises(OtpgenError):
            module_name(_snake(cls))


@pytest.mark.parametrize(
    ("name", "taken", "clash"),
    [
        ("foo_", ["foo"], "foo"),
        ("foo", ["foo_"], "foo_"),
        ("foo__bar", ["chat", "foo_bar"], "foo_bar"),
        ("_chat", ["chat"], "chat"),
        ("chat", ["chat"], None),  # the same module generated again
        ("chat", ["chat_room", "room"], None),
        ("chat", [], None),
    ],
)
def test_a_name_whose_class_another_module_defines_clashes(
    name: str, taken: list[str], clash: str | None
) -> None:
    assert class_clash(name, taken) == clash


@given(names, st.lists(names, max_size=4))
def test_class_clash_finds_exactly_the_other_modules_with_the_same_class(
    name: str, taken: list[str]
) -> None:
    found = class_clash(name, taken)
    others = {m for m in taken if m != name and class_name(m) == class_name(name)}
    assert (found is None) == (not others)
    assert found is None or found in others


def test_the_clash_message_names_both_modules_and_the_class() -> None:
    assert clash_message("chat_", "chat") == (
        "chat_ would be class Chat, which chat already defines; choose another name"
    )
