"""Validating the NAME a user gives a generated module."""

import builtins
import keyword
import re
import sys

from otpgen._errors import OtpgenError

MAX_LENGTH = 30
_MODULE = re.compile(r"[a-z_][a-z0-9_]*")
_RESERVED = {"otp", "tests", "test", "conftest", "application", "main", "__main__", "__init__"}
# Module names whose class name would shadow a name the generated code imports.
_SHADOWING = {"self", "final", "any", "mapping", "iterable", "hashable", "callable", "awaitable"}


def module_name(raw: str) -> str:
    """Turn NAME into a module name (`chat-room` -> `chat_room`), or say why it cannot be one."""
    if not raw:
        raise OtpgenError("the name is empty; give a module name such as `chat_room`")
    if "/" in raw or "\\" in raw or ".." in raw or raw.startswith("."):
        raise OtpgenError(
            f"expected a module name, got a path: {raw!r}; "
            "give a plain name such as `chat_room` (use --package to choose where it goes)"
        )
    if not raw.isascii():
        raise OtpgenError(f"the name must be ASCII, got: {raw!r}")
    name = raw.replace("-", "_")
    if len(name) > MAX_LENGTH:
        raise OtpgenError(
            f"the name is {len(name)} characters long; keep it to {MAX_LENGTH} so the generated "
            "lines stay within 100 columns"
        )
    if name[0].isdigit():
        raise OtpgenError(f"a module name cannot start with a digit, got: {raw!r}")
    if not _MODULE.fullmatch(name):
        raise OtpgenError(
            f"expected a lowercase module name (letters, digits, _ or -), got: {raw!r}"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise OtpgenError(f"{name!r} is a Python keyword; choose another name")
    if hasattr(builtins, name):
        raise OtpgenError(f"{name!r} shadows a Python builtin; choose another name")
    if name in sys.stdlib_module_names:
        raise OtpgenError(f"{name!r} shadows the standard library module; choose another name")
    if name in _SHADOWING:
        raise OtpgenError(
            f"{name!r} would name its class {class_name(name)}, which the generated code "
            "imports from typing; choose another name"
        )
    if name in _RESERVED or name.startswith("test_"):
        raise OtpgenError(f"{name!r} is reserved (kernel, tests or app files); choose another name")
    return name


def class_name(module: str) -> str:
    """`chat_room` -> `ChatRoom`."""
    return "".join(part[:1].upper() + part[1:] for part in module.split("_") if part)
