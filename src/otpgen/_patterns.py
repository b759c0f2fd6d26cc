"""The patterns otpgen can render: their metadata and typed options (`pattern.toml`)."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otpgen._errors import OtpgenError
from otpgen._files import read_toml

OptionValue = str | int | float | bool

_TYPES = ("str", "int", "float", "bool", "choice")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Option:
    """One `--set key=value` option of a pattern."""

    key: str
    type: str
    default: OptionValue
    help: str
    choices: tuple[str, ...] = ()
    min: float | None = None

    def describe_type(self) -> str:
        """The type as `otpgen show` prints it."""
        if self.type == "choice":
            return " | ".join(self.choices)
        if self.min is not None:
            return f"{self.type} >= {self.min:g}"
        return self.type

    def parse(self, raw: str) -> OptionValue:
        """Parse a command-line value, or raise OtpgenError saying what was expected."""
        value: OptionValue
        if self.type == "choice":
            if raw not in self.choices:
                raise OtpgenError(
                    f"expected {self.key} to be one of {', '.join(self.choices)}, got: {raw!r}"
                )
            return raw
        if self.type == "bool":
            lowered = raw.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise OtpgenError(f"expected {self.key} to be true or false, got: {raw!r}")
        if self.type == "int":
            try:
                value = int(raw)
            except ValueError:
                raise OtpgenError(f"expected {self.key} to be an integer, got: {raw!r}") from None
        elif self.type == "float":
            try:
                value = float(raw)
            except ValueError:
                raise OtpgenError(f"expected {self.key} to be a number, got: {raw!r}") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise OtpgenError(f"expected {self.key} to be a finite number, got: {raw!r}")
        else:
            if not raw.isprintable() or not raw.strip():
                raise OtpgenError(f"expected {self.key} to be printable text, got: {raw!r}")
            return raw
        if self.min is not None and value < self.min:
            raise OtpgenError(f"expected {self.key} to be >= {self.min:g}, got: {raw!r}")
        return value


@dataclass(frozen=True)
class Pattern:
    """A pattern's metadata; its templates sit beside `pattern.toml` in `directory`."""

    name: str
    version: int
    summary: str
    use_when: str
    dont_use_when: str
    options: tuple[Option, ...]
    directory: Path
    wire_imports: tuple[str, ...] = ()
    wire_child: str | None = None  # how `new` adds it to a service's tree; None: it is not
    wire_when: str | None = None  # a bool option that must be true for it to have a process

    def wiring(
        self,
        package: str,
        name: str,
        class_name: str,
        options: Mapping[str, object] | None = None,
    ) -> tuple[tuple[str, ...], str] | None:
        """The imports and child spec expression that put this module in a service's tree."""
        if self.wire_child is None:
            return None
        if self.wire_when is not None:
            chosen = dict(options or {})
            if not chosen.get(self.wire_when, self.option(self.wire_when).default):
                return None
        fields = {"package": package, "name": name, "class_name": class_name}
        imports = tuple(line.format(**fields) for line in self.wire_imports)
        return imports, self.wire_child.format(**fields)

    def option(self, key: str) -> Option:
        """The option named `key`, or an error listing the ones that exist."""
        for option in self.options:
            if option.key == key:
                return option
        known = ", ".join(o.key for o in self.options) or "none"
        raise OtpgenError(f"pattern {self.name} has no option {key!r}; its options: {known}")

    def resolve(self, settings: dict[str, str]) -> dict[str, OptionValue]:
        """Every option's value: the parsed setting where given, else the default."""
        for key in settings:
            self.option(key)
        return {
            o.key: o.parse(settings[o.key]) if o.key in settings else o.default
            for o in self.options
        }


def _load(directory: Path) -> Pattern:
    where = directory / "pattern.toml"
    data = read_toml(where) or {}
    try:
        return _pattern(directory, where, data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise OtpgenError(f"{where} is not a valid pattern: {problem}") from None


def _pattern(directory: Path, where: Path, data: dict[str, Any]) -> Pattern:
    options = tuple(_load_option(key, raw, where) for key, raw in data.get("options", {}).items())
    return Pattern(
        name=directory.name,
        version=int(data["version"]),
        summary=str(data["summary"]),
        use_when=str(data["use_when"]),
        dont_use_when=str(data["dont_use_when"]),
        options=options,
        directory=directory,
        wire_imports=tuple(data.get("wire", {}).get("imports", ())),
        wire_child=data.get("wire", {}).get("child"),
        wire_when=data.get("wire", {}).get("when"),
    )


def _load_option(key: str, raw: dict[str, Any], where: Path) -> Option:
    kind = raw.get("type")
    if kind not in _TYPES:
        raise OtpgenError(
            f"{where}: option {key}: type must be one of {', '.join(_TYPES)}, got: {kind!r}"
        )
    return Option(
        key=key,
        type=kind,
        default=raw["default"],
        help=str(raw["help"]),
        choices=tuple(raw.get("choices", ())),
        min=raw.get("min"),
    )


def load_patterns(templates: Path) -> dict[str, Pattern]:
    """Every pattern under `templates/patterns`, by name, in name order."""
    root = templates / "patterns"
    found = sorted(p.parent for p in root.glob("*/pattern.toml"))
    return {directory.name: _load(directory) for directory in found}


def load_pattern(templates: Path, name: str) -> Pattern:
    """The pattern called `name` (reading its pattern.toml alone), or an error suggesting
    the closest one."""
    directory = templates / "patterns" / name
    if "/" not in name and name not in (".", "..") and (directory / "pattern.toml").is_file():
        return _load(directory)
    return find_pattern(load_patterns(templates), name)


def find_pattern(patterns: dict[str, Pattern], name: str) -> Pattern:
    """The pattern called `name`, or an error suggesting the closest one."""
    if name in patterns:
        return patterns[name]
    import difflib

    close = difflib.get_close_matches(name, list(patterns), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise OtpgenError(
        f"unknown pattern {name!r}{hint} (see `otpgen list`; known: {', '.join(patterns)})"
    )
