"""The manifest under `.otpgen/`: what otpgen wrote, from which template, with which answers.

`manifest.json` holds, per render, the template, its version, the answers and, per file, two
hashes: `sha`, of the pristine formatted render last written (the merge base of the next
update), and `source`, of the render before formatting (so a new ruff or a changed ruff
configuration is never mistaken for a template change).

The merge bases live in `.otpgen/bases/`, content-addressed by `sha` and zlib-compressed like
git's objects: no Python tool (ruff, mypy, pytest, pre-commit's text fixers) ever reads or
rewrites them, whatever the user's configuration, and identical renders are stored once.
A command that stores many bases at once (an update changing hundreds of files, a first
`new` with the kernel) stores them in one pack, `pack-<hash>`, as git packs its objects: one
file created instead of hundreds, which on a journalled disk is most of what storing them
costs. A pack stays while every base in it is needed; once one is not, the pack goes and the
bases still needed move to the next command's own.
"""

import functools
import hashlib
import json
import os
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from otpgen._errors import OtpgenError
from otpgen._record import field, frozen

# 3: merge bases may live in packs (`.otpgen/bases/pack-*`), which otpgen before 3
# cannot read; a manifest of a newer format is refused rather than half understood.
FORMAT = 3
DIRECTORY = PurePosixPath(".otpgen")
MANIFEST = DIRECTORY / "manifest.json"
BASES = DIRECTORY / "bases"
LEGACY_BASES = DIRECTORY / "base"  # otpgen 0.1 kept plain-text bases here
JOURNAL = DIRECTORY / "journal.json"


def digest(text: str) -> str:
    """The hash recorded for a file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def blob_path(sha: str) -> PurePosixPath:
    """Where the base with hash `sha` is stored, relative to the project root (one flat
    directory: a project holds hundreds of bases, not millions, and a fan-out would cost a
    directory per base)."""
    return BASES / sha


PACK_PREFIX = "pack-"
PACK_MIN = 16
"""Bases stored by one command from this many on go into a pack, fewer into files of their
own (a pack is rewritten once one of its bases is no longer needed: small ones would be
rewritten often)."""


def pack(texts: dict[str, str]) -> tuple[PurePosixPath, bytes]:
    """A pack of bases (sha -> text): where it is stored, and its bytes.

    One zlib stream: a JSON line indexing each base (`sha: [offset, length]` in the bytes
    that follow it), then the bases' UTF-8 texts back to back. Named by its own hash, so
    the same bases make the same pack.
    """
    index: dict[str, list[int]] = {}
    chunks = []
    offset = 0
    for sha, text in sorted(texts.items()):
        data = text.encode("utf-8")
        index[sha] = [offset, len(data)]
        chunks.append(data)
        offset += len(data)
    head = json.dumps(index, separators=(",", ":")).encode("utf-8") + b"\n"
    data = zlib.compress(head + b"".join(chunks), 1)
    return BASES / f"{PACK_PREFIX}{hashlib.sha256(data).hexdigest()}", data


def _is_pack(name: str) -> bool:
    return name.startswith(PACK_PREFIX) and _hash(name.removeprefix(PACK_PREFIX))


@functools.lru_cache(maxsize=64)
def _pack_index(directory: str, name: str) -> frozenset[str]:
    """The hashes in the pack `name` (empty if it is unreadable), decompressing little more
    than its index. Cached by name: a pack's name is the hash of its bytes."""
    try:
        data = Path(directory, name).read_bytes()
        stream = zlib.decompressobj()
        head = stream.decompress(data, 1 << 16)
        while b"\n" not in head and stream.unconsumed_tail:
            head += stream.decompress(stream.unconsumed_tail, 1 << 16)
        if b"\n" not in head:
            head = zlib.decompress(data)
        index = json.loads(head.split(b"\n", 1)[0])
    except (OSError, zlib.error, ValueError):
        return frozenset()
    return frozenset(sha for sha in index if _hash(sha)) if isinstance(index, dict) else frozenset()


@functools.lru_cache(maxsize=4)
def _pack_texts(path: str, mtime: int, size: int) -> dict[str, str]:
    """Every base in the pack at `path` (named by its stat, so a changed file is read
    again); a base whose bytes are not UTF-8 is left out."""
    try:
        raw = zlib.decompress(Path(path).read_bytes())
        head, body = raw.split(b"\n", 1)
        index = json.loads(head)
    except (OSError, zlib.error, ValueError):
        return {}
    texts = {}
    for sha, where in index.items() if isinstance(index, dict) else ():
        try:
            offset, length = where
            texts[sha] = body[offset : offset + length].decode("utf-8")
        except (TypeError, ValueError):
            continue
    return texts


def pack_texts(path: Path) -> dict[str, str]:
    """Every base in the pack at `path`, by sha ({} if it is unreadable)."""
    try:
        status = path.stat()
    except OSError:
        return {}
    return _pack_texts(str(path), status.st_mtime_ns, status.st_size)


def blob(text: str) -> bytes:
    """A base's stored bytes: zlib's fastest level (an update that changes hundreds of
    files stores as many bases, and level 6 took three times as long to save a tenth of
    the bytes; any level reads back the same)."""
    return zlib.compress(text.encode("utf-8"), 1)


@frozen
class FileRecord:
    """One generated file: the hash of its pristine render and of that render's source."""

    sha: str
    source: str | None = None  # None: recorded by otpgen 0.1, which kept no source hash
    pending: "FileRecord | None" = None
    """After `update --conflict rej`: the record of the new render, which becomes the base
    once the user has merged the `.rej` by hand (until then the old base stays)."""
    held: str | None = None  # the hash of the user's file when the `.rej` was written
    wired: str | None = None
    """The hash of the file as otpgen last wrote it when that was not the render alone: the
    render plus what `new` adds to a file of the user's project (a module wired into
    application.py, requirements added to pyproject.toml). A file with this hash holds no
    edit of the user's."""

    def as_written(self, disk: str) -> bool:
        """Whether `disk` is the file as otpgen wrote it: the render, or the render and
        what otpgen added to it (see `wired`)."""
        found = digest(disk)
        return found == self.sha or found == self.wired

    def with_wired(self, before: str | None, after: str) -> "FileRecord":
        """This record once otpgen has changed the file from `before` to `after` (adding
        lines of its own): `after` is as written if `before` was."""
        wired = digest(after) if before is not None and self.as_written(before) else None
        if wired == self.sha:
            wired = None
        return FileRecord(self.sha, self.source, self.pending, self.held, wired)

    def resolved(self, disk: str | None, rej_exists: bool) -> "FileRecord":
        """The record in force now: the pending one once its `.rej` is merged and gone.

        A `.rej` deleted while the file is still exactly as it was counts as not merged: the
        old base stays, so the next update offers the template's change again.
        """
        if self.pending is None or rej_exists:
            return self
        if disk is not None and digest(disk) != self.held:
            return self.pending
        return FileRecord(self.sha, self.source, wired=self.wired)

    def to_json(self) -> dict[str, Any]:
        """The record as the manifest stores it."""
        data: dict[str, Any] = {"sha": self.sha, "source": self.source}
        if self.pending is not None:
            data["pending"] = self.pending.to_json()
            data["held"] = self.held
        if self.wired is not None:
            data["wired"] = self.wired
        return data


@frozen
class RenderRecord:
    """One recorded render: a pattern instance, the kernel, the application or the skeleton."""

    template: str
    version: str
    answers: dict[str, Any]
    files: dict[str, FileRecord]  # relative posix path -> record
    shadows: dict[str, str] = field(default_factory=dict)
    """Shipped templates the project overrides (.otpgen/templates), with their hashes."""


@frozen
class Manifest:
    """The whole manifest; `renders` is keyed like `kernel` or `genserver:chat`."""

    otpgen: str
    renders: dict[str, RenderRecord] = field(default_factory=dict)
    formatter: str = ""  # what formatted the recorded renders (ruff version and config)
    raw: str | None = field(default=None, compare=False)
    """The manifest file's text as read (None: there was none), so that a write can check
    nobody changed it since."""

    def owner(self, path: PurePosixPath) -> tuple[str, RenderRecord] | None:
        """The render that wrote `path`, if any."""
        key = path.as_posix()
        for name, render in self.renders.items():
            if key in render.files:
                return name, render
        return None

    def same_as(self, other: "Manifest") -> bool:
        """Whether writing this manifest over `other` would record anything new."""
        return self.renders == other.renders and self.formatter == other.formatter

    def shas(self) -> set[str]:
        """Every base the manifest refers to (pending ones included)."""
        found = set()
        for render in self.renders.values():
            for record in render.files.values():
                found.add(record.sha)
                if record.pending is not None:
                    found.add(record.pending.sha)
        return found

    def to_json(self) -> str:
        """The manifest file's text: stable order, so it diffs well in git."""
        data = {
            "format": FORMAT,
            "otpgen": self.otpgen,
            "formatter": self.formatter,
            "renders": {
                name: {
                    "template": r.template,
                    "version": r.version,
                    "answers": r.answers,
                    "files": {path: rec.to_json() for path, rec in sorted(r.files.items())},
                    **({"shadows": dict(sorted(r.shadows.items()))} if r.shadows else {}),
                }
                for name, r in sorted(self.renders.items())
            },
        }
        return json.dumps(data, indent=2) + "\n"


def project_path(name: object, where: str) -> PurePosixPath:
    """`name` as a path inside the project, or an error: never absolute, never `..`.

    Paths under .otpgen/ and .git/ are refused too: otpgen never records its own state or
    git's as a generated file.
    """
    text = name if isinstance(name, str) else ""
    path = PurePosixPath(text)
    if (
        not text
        or "\\" in text
        or "\0" in text
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in text.split("/"))
        or path.parts[0] in (DIRECTORY.as_posix(), ".git")
    ):
        raise OtpgenError(
            f"{MANIFEST} is damaged: {where} names {name!r}, which is not a file path inside "
            "the project; fix or remove that entry (or restore the file from version control)"
        )
    return path


def record_wired(
    renders: dict[str, RenderRecord], path: PurePosixPath, before: str | None, after: str
) -> dict[str, RenderRecord]:
    """`renders` once otpgen has changed `path` from `before` to `after` with lines of its
    own (see `FileRecord.wired`); as they were if no render wrote `path`."""
    key = path.as_posix()
    for name, render in renders.items():
        if key in render.files:
            files = {**render.files, key: render.files[key].with_wired(before, after)}
            fresh = RenderRecord(
                render.template, render.version, render.answers, files, render.shadows
            )
            return {**renders, name: fresh}
    return renders


def _hash(value: object) -> bool:
    """Whether `value` is a hash as otpgen writes them (lowercase hex): a `sha` names a
    file under .otpgen/bases/, so anything else would be a path."""
    return isinstance(value, str) and 16 <= len(value) <= 128 and not value.strip(_HEX)


_HEX = "0123456789abcdef"


def _record(raw: object, where: str) -> FileRecord:
    if _hash(raw):  # otpgen 0.1: path -> sha
        assert isinstance(raw, str)
        return FileRecord(raw)
    if isinstance(raw, dict) and _hash(raw.get("sha")):
        source, held, wired = raw.get("source"), raw.get("held"), raw.get("wired")
        pending = _record(raw["pending"], where) if raw.get("pending") is not None else None
        if (
            (source is None or isinstance(source, str))
            and (held is None or _hash(held))
            and (wired is None or _hash(wired))
        ):
            return FileRecord(raw["sha"], source, pending, held, wired)
    raise OtpgenError(
        f"{MANIFEST} is damaged: {where} should be a hash, got {raw!r}; restore the file "
        "from version control"
    )


def _render_record(key: str, raw: Any) -> RenderRecord:
    try:
        files = {
            project_path(path, f"the render {key!r}").as_posix(): _record(
                value, f"the entry {path!r} of {key!r}"
            )
            for path, value in raw["files"].items()
        }
        answers = raw["answers"]
        if not isinstance(answers, dict):
            raise TypeError("answers must be an object")
        return RenderRecord(
            template=str(raw["template"]),
            version=str(raw["version"]),
            answers=dict(answers),
            files=files,
            shadows={str(k): str(v) for k, v in raw.get("shadows", {}).items()},
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise OtpgenError(
            f"{MANIFEST} is damaged: the render {key!r} is malformed "
            f"({exc.__class__.__name__}: {exc}); restore the file from version control"
        ) from None


def load(root: Path, otpgen_version: str) -> Manifest:
    """The project's manifest, or an empty one if otpgen never wrote there."""
    path = root / MANIFEST
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return Manifest(otpgen=otpgen_version)
    except UnicodeDecodeError as exc:
        raise OtpgenError(
            f"{MANIFEST} is damaged: not UTF-8 at byte {exc.start}; restore it from version control"
        ) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise OtpgenError(
            f"{MANIFEST} is damaged ({exc}); restore it from version control"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("renders"), dict):
        raise OtpgenError(
            f"{MANIFEST} is damaged: expected an object with `renders`; restore it from "
            "version control"
        )
    written = data.get("format", 1)
    if type(written) is int and written > FORMAT:
        raise OtpgenError(
            f"{MANIFEST} was written by a newer otpgen (manifest format {written}; this "
            f"otpgen reads up to {FORMAT}): upgrade otpgen, e.g. `pipx upgrade otpgen`"
        )
    renders = {str(key): _render_record(str(key), raw) for key, raw in data["renders"].items()}
    return Manifest(
        otpgen=str(data.get("otpgen", otpgen_version)),
        renders=renders,
        formatter=str(data.get("formatter", "")),
        raw=text,
    )


def base_text(root: Path, path: str, record: FileRecord) -> str | None:
    """The pristine render recorded for `path`, if it is stored and intact."""
    try:
        text = zlib.decompress((root / blob_path(record.sha)).read_bytes()).decode("utf-8")
    except (OSError, zlib.error, UnicodeDecodeError):
        text = None
    if text is None:
        for name, shas in stored_packs(root).items():
            if record.sha in shas:
                text = pack_texts(root / name).get(record.sha)
                if text is not None:
                    break
    if text is None:  # otpgen 0.1's plain-text base, if a tool has not rewritten it
        try:
            text = (root / LEGACY_BASES / path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return text if digest(text) == record.sha else None


def stored_blobs(root: Path) -> set[str]:
    """The hashes of every base stored under .otpgen/bases in a file of its own."""
    try:
        names = os.listdir(root / BASES)
    except (FileNotFoundError, NotADirectoryError):
        return set()
    return {name for name in names if len(name) == 64 and not name.startswith(".")}


def stored_packs(root: Path) -> dict[PurePosixPath, frozenset[str]]:
    """Every pack under .otpgen/bases (its path from the root) with the hashes it holds."""
    directory = root / BASES
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {BASES / name: _pack_index(str(directory), name) for name in names if _is_pack(name)}


def legacy_bases(root: Path) -> list[PurePosixPath]:
    """otpgen 0.1's plain-text bases, to remove once the manifest no longer needs them."""
    directory = root / LEGACY_BASES
    if not directory.is_dir():
        return []
    return sorted(
        PurePosixPath(p.relative_to(root).as_posix()) for p in directory.rglob("*") if p.is_file()
    )
