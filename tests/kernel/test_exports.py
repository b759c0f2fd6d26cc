"""The kernel's public surface: `otp.__all__` pinned exactly, and every public name documented.

Generated code and the docs use these names (DESIGN: "Extend, don't rename"), so any
change to the list must be deliberate: update EXPECTED in the same commit.
"""

from __future__ import annotations

import ast
import enum
import inspect
import itertools
from pathlib import Path

import otp
import pytest

EXPECTED = [
    "DUPLICATE",
    "KILLED",
    "MAX_RESTARTS_REACHED",
    "NOREPLY",
    "NORMAL",
    "ONE_FOR_ALL",
    "ONE_FOR_ONE",
    "PERMANENT",
    "REST_FOR_ONE",
    "SHUTDOWN",
    "SUPERVISOR",
    "TEMPORARY",
    "TIMEOUT",
    "TRANSIENT",
    "UNIQUE",
    "WORKER",
    "Agent",
    "AlreadyPresent",
    "AlreadyStarted",
    "CallTimeout",
    "Caller",
    "CallingSelf",
    "ChildCounts",
    "ChildInfo",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpec",
    "ChildSpecError",
    "ChildType",
    "ChildrenSummary",
    "Continue",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "GenServer",
    "Hooks",
    "Intensity",
    "JsonFormatter",
    "Keys",
    "MaxChildren",
    "MonitorRef",
    "NoProcess",
    "NoReply",
    "OTPError",
    "Ok",
    "ProcessInfo",
    "Registry",
    "Reply",
    "Restart",
    "Shutdown",
    "Snapshot",
    "StartChildError",
    "Stop",
    "Strategy",
    "Supervisor",
    "TaskHandle",
    "TaskSupervisor",
    "Via",
    "instrument",
    "is_normal",
    "observe",
    "run",
    "serve",
    "snapshot",
    "snapshot_async",
    "via",
    "whereis",
]

KERNEL_DIR = Path(otp.__file__).parent

_ERROR_NAMES = {
    "AlreadyPresent",
    "AlreadyStarted",
    "CallTimeout",
    "CallingSelf",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "MaxChildren",
    "NoProcess",
}


def test_all_is_exactly_the_pinned_public_surface() -> None:
    assert otp.__all__ == EXPECTED


def test_every_name_in_all_exists_and_star_import_gives_exactly_those() -> None:
    namespace: dict[str, object] = {}
    exec("from otp import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(EXPECTED)


def test_no_other_public_name_is_exposed_by_the_package() -> None:
    public = {
        name
        for name, value in vars(otp).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(EXPECTED)


def test_the_package_has_a_docstring() -> None:
    assert otp.__doc__
    assert otp.__doc__.strip()


def test_every_error_derives_from_otp_error() -> None:
    errors = [getattr(otp, n) for n in EXPECTED if n.endswith("Error") or n in _ERROR_NAMES]
    assert len(errors) == 12
    for error in errors:
        assert issubclass(error, otp.OTPError), error


CALLABLES = [n for n in EXPECTED if inspect.isclass(getattr(otp, n)) or callable(getattr(otp, n))]
VALUES = [n for n in EXPECTED if n not in CALLABLES]


def _own_docstring(obj: object) -> str | None:
    """The docstring written for `obj` itself (not inherited, not generated)."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        # dataclasses invent "Name(field: type, ...)" for a class without a docstring.
        if doc and doc.startswith(f"{obj.__name__}("):
            return None
        return doc
    return getattr(obj, "__doc__", None)


@pytest.mark.parametrize("name", CALLABLES)
def test_every_public_class_and_function_has_its_own_docstring(name: str) -> None:
    doc = _own_docstring(getattr(otp, name))
    assert doc, f"otp.{name} has no docstring"
    assert doc.strip(), f"otp.{name} has an empty docstring"


@pytest.mark.parametrize("name", [n for n in CALLABLES if inspect.isclass(getattr(otp, n))])
def test_every_public_method_and_property_of_a_public_class_is_documented(name: str) -> None:
    cls = getattr(otp, name)
    undocumented = []
    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        if isinstance(value, property):
            doc = value.__doc__
        elif inspect.isfunction(value) or isinstance(value, classmethod | staticmethod):
            doc = inspect.getdoc(getattr(cls, attr))  # an override may inherit its doc
        else:
            continue
        if not (doc and doc.strip()):
            undocumented.append(attr)
    assert undocumented == [], f"otp.{name}: undocumented {undocumented}"


def _attribute_docstrings() -> dict[str, str]:
    """Module-level `NAME = value` followed by a string literal, in every kernel module."""
    found: dict[str, str] = {}
    for path in sorted(KERNEL_DIR.glob("*.py")):
        body = ast.parse(path.read_text()).body
        for statement, following in itertools.pairwise(body):
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
            elif isinstance(statement, ast.AnnAssign):
                target = statement.target
            else:
                continue
            if (
                isinstance(target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                found[target.id] = following.value.value
    return found


@pytest.mark.parametrize("name", VALUES)
def test_every_public_constant_is_documented(name: str) -> None:
    value = getattr(otp, name)
    if isinstance(value, enum.Enum):
        # An enum member is documented by its enum (and, better, its own attribute docstring).
        doc = _own_docstring(type(value))
    else:
        doc = _attribute_docstrings().get(name)
    assert doc, f"otp.{name} has no docstring"
    assert doc.strip(), f"otp.{name} has an empty docstring"
