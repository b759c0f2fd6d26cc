"""The manifest under `.otpgen/`: what otpgen wrote, from which template, with which answers.

`manifest.json` holds, per render, the template, its version, the answers and each file's
hash; `base/<path>` holds each file's pristine formatted render, the base of later merges.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from otpgen._errors import OtpgenError

DIRECTORY = PurePosixPath(".otpgen")
MANIFEST = DIRECTORY / "manifest.json"
BASES = DIRECTORY / "base"


def digest(text: str) -> str:
    """The hash recorded for a file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Render:
    """One recorded render: a pattern instance, or the vendored kernel."""

    template: str
    version: str
    answers: dict[str, Any]
    files: dict[str, str]  # relative posix path -> sha256 of the pristine text
    shadows: dict[str, str] = field(default_factory=dict)
    """Shipped templates the project overrides (.otpgen/templates), with their hashes."""


@dataclass
class Manifest:
    """The whole manifest; `renders` is keyed like `kernel` or `genserver:chat`."""

    otpgen: str
    renders: dict[str, Render] = field(default_factory=dict)

    def owner(self, path: PurePosixPath) -> tuple[str, Render] | None:
        """The render that wrote `path`, if any."""
        key = path.as_posix()
        for name, render in self.renders.items():
            if key in render.files:
                return name, render
        return None

    def to_json(self) -> str:
        """The manifest file's text: stable order, so it diffs well in git."""
        data = {
            "otpgen": self.otpgen,
            "renders": {
                name: {
                    "template": r.template,
                    "version": r.version,
                    "answers": r.answers,
                    "files": dict(sorted(r.files.items())),
                    **({"shadows": dict(sorted(r.shadows.items()))} if r.shadows else {}),
                }
                for name, r in sorted(self.renders.items())
            },
        }
        return json.dumps(data, indent=2, sort_keys=False) + "\n"


def base_text(root: Path, path: str) -> str | None:
    """The pristine render recorded for `path`, if any."""
    try:
        return (root / BASES / path).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def load(root: Path, otpgen_version: str) -> Manifest:
    """The project's manifest, or an empty one if otpgen never wrote there."""
    path = root / MANIFEST
    if not path.is_file():
        return Manifest(otpgen=otpgen_version)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        renders = {
            name: Render(
                template=str(r["template"]),
                version=str(r["version"]),
                answers=dict(r["answers"]),
                files={str(k): str(v) for k, v in r["files"].items()},
                shadows={str(k): str(v) for k, v in r.get("shadows", {}).items()},
            )
            for name, r in data["renders"].items()
        }
        return Manifest(otpgen=str(data["otpgen"]), renders=renders)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OtpgenError(
            f"{path} is damaged ({exc.__class__.__name__}: {exc}); restore it from version control"
        ) from None
