"""`otpgen observe URL`: a running service's supervision tree, in the terminal.

The service's web child serves its tree as JSON at ``GET /observer/api/tree`` (the observer
contract: ``version`` 1, ``taken_at``, ``processes`` listed parents before children, and
``summaries``: for each supervisor some of whose children a ``?limit=N`` left out, what they
add up to; older services send no ``summaries``, which reads as none).
This module fetches that document with urllib, checks its shape, arranges the processes
(a tree indented by parent, or a flat list) and draws them: with rich on a terminal (a live
view that polls until `q` or Ctrl-C, or one frame with ``--once``), as plain aligned text
when stdout is not a terminal, or as JSON (``--once --format json``) for scripts.

Use it to see, while a service runs, which process is restarting, whose mailbox grows and
where the time goes. It is not a metrics system: nothing is kept between polls (for history
and alerts scrape ``/metrics`` with Prometheus).

Only the ``observe`` command imports this module, and it imports rich and urllib itself, so
the other commands never pay for them.
"""

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn

from otpgen._version import __version__

if TYPE_CHECKING:
    import socket

    from rich.console import Console, RenderableType
    from rich.text import Text

TREE_PATH: Final = "/observer/api/tree"
LIMIT: Final = 200  # children of each supervisor asked for (`--limit`): the busiest first
SORTS: Final = ("mailbox", "handler_time", "restarts", "name")
# A process is "backlogged" from this many waiting messages, or once its oldest message has
# waited this long: either means it falls behind what is sent to it.
BACKLOG_MESSAGES: Final = 100
BACKLOG_SECONDS: Final = 1.0
KEYS: Final = "qsf"  # the live view's keys: quit, next sort order, flat list or tree
TIMEOUT: Final = 5.0  # seconds one poll may take before the service counts as unreachable

NONE = type(None)
NUMBER = (int, float)
# Every key a process entry must have, and the JSON types its value may take.
FIELDS: Final[dict[str, tuple[type, ...]]] = {
    "id": (str,),
    "parent": (str, NONE),
    "name": (str, NONE),
    "child_id": (str, NONE),
    "class": (str, NONE),
    "kind": (str,),
    "status": (str,),
    "strategy": (str, NONE),
    "restarts": (int,),
    "intensity": (dict, NONE),
    "mailbox": (int,),
    "oldest_age": (*NUMBER, NONE),
    "handler_time": NUMBER,
    "current": (str, NONE),
    "uptime": NUMBER,
    "memory": (int,),
}
TYPE_NAMES: Final = {str: "a string", int: "an integer", float: "a number", dict: "an object"}
# A supervisor's summary (`summaries`): the keys it must have, then those it may have (all
# integers), as the kernel's ChildrenSummary names them.
SUMMARY_FIELDS: Final = ("children", "shown", "mailbox", "backlogged", "restarting", "restarts")
SUMMARY_EXTRAS: Final = ("largest_mailbox", "starting", "stopping", "supervisors")


class ObserveError(Exception):
    """What went wrong, in one line, and the exit status it ends the command with.

    `retry` is true for what may pass by itself (the service is down or restarting): a live
    view keeps polling through it, ``--once`` exits 1.
    """

    def __init__(self, message: str, code: int, *, retry: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retry = retry


# The URL


def parse_limit(text: str) -> int | None:
    """``--limit``: a number >= 0, or ``all`` (None). Raises ObserveError (exit 2)."""
    text = text.strip()
    if text == "all":
        return None
    if not text.isdigit():
        raise ObserveError(f"expected --limit to be a number >= 0 or 'all', got: {text!r}", 2)
    return int(text)


def tree_url(url: str, limit: int | None = LIMIT) -> str:
    """The observer JSON's URL from what the user typed: the service's base URL
    (``http://127.0.0.1:8000``, a path prefix kept), its ``/observer/`` page, or the full
    ``/observer/api/tree`` URL; with ``limit=N`` (or ``limit=all``) in its query, in place of
    any the URL had. Raises ObserveError (exit 2) for anything but http(s) with a host."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as error:
        raise ObserveError(f"not a URL: {url!r} ({error})", 2) from None
    if "://" not in url:
        raise ObserveError(f"no scheme in {url!r}: did you mean 'http://{url.strip()}'?", 2)
    if parts.scheme not in ("http", "https"):
        raise ObserveError(f"expected an http:// or https:// URL, got {url!r}", 2)
    if not parts.hostname:
        raise ObserveError(f"no host in the URL {url!r}", 2)
    path = parts.path.rstrip("/")
    if path.endswith("/observer"):
        path = path.removesuffix("/observer")
    if not path.endswith(TREE_PATH):
        path += TREE_PATH
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "limit"]
    query.append(("limit", "all" if limit is None else str(limit)))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def ranked(url: str, sort: str | None) -> str:
    """`url` asking the service to fill each supervisor's shown children with the busiest
    (``rank=handler_time``) while the view sorts by handler time, and not otherwise: that
    ranking reads every child's statistics, so it is asked for only when it is shown.
    Services that predate it ignore the parameter."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "rank"]
    if sort == "handler_time":
        query.append(("rank", "handler_time"))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


# Fetching and checking


def fetch(url: str, timeout: float = TIMEOUT) -> bytes:
    """The body `url` answers. Raises ObserveError: exit 1, to retry when the service cannot
    be reached or answers a server error (5xx), not when it answers 4xx."""
    import http.client
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": f"otpgen/{__version__}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        hint = " (is the observer mounted? see the service's OTP_OBSERVER)"
        message = f"{url} answered {error.code} {error.reason}"
        raise ObserveError(
            message + (hint if error.code == 404 else ""), 1, retry=error.code >= 500
        ) from None
    except (OSError, ValueError, http.client.HTTPException) as error:
        # URLError, a timeout, a refused or dropped connection, a truncated answer
        reason = getattr(error, "reason", None) or error
        raise ObserveError(f"cannot reach {url}: {reason}", 1, retry=True) from None


def parse(body: bytes, url: str) -> dict[str, Any]:
    """The observer document in `body`, its shape checked. Raises ObserveError (exit 1)
    naming the first thing that is not the contract's: not JSON, a version other than 1, a
    missing key, a value of the wrong type, an id twice, or a parent that is not an earlier
    process. Keys the contract does not name are ignored; so are unknown `kind`, `status`
    and `current` words (a newer kernel may add some)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        _malformed(url, f"the answer is not JSON ({error})")
    if not isinstance(data, dict):
        _malformed(url, f"expected a JSON object, got {_json_type(data)}")
    for key in ("version", "taken_at", "processes"):
        if key not in data:
            _malformed(url, f"no {key!r} key")
    if data["version"] != 1:
        _malformed(url, f"version is {json.dumps(data['version'])}, this otpgen reads 1")
    if not _is(data["taken_at"], NUMBER):
        _malformed(url, f"'taken_at' is {_json_type(data['taken_at'])}, expected a number")
    processes = data["processes"]
    if not isinstance(processes, list):
        _malformed(url, f"'processes' is {_json_type(processes)}, expected an array")
    seen: set[str] = set()
    for index, process in enumerate(processes):
        where = f"processes[{index}]"
        if not isinstance(process, dict):
            _malformed(url, f"{where} is {_json_type(process)}, expected an object")
        if isinstance(process.get("id"), str):
            where += f" (id {process['id']!r})"
        for key, types in FIELDS.items():
            if key not in process:
                _malformed(url, f"{where} has no {key!r}")
            if not _is(process[key], types):
                expected = " or ".join(TYPE_NAMES.get(t, "null") for t in types if t is not float)
                if float in types:
                    expected = expected.replace("an integer", "a number")
                got = _json_type(process[key])
                _malformed(url, f"{where}.{key} is {got}, expected {expected}")
        if process["id"] in seen:
            _malformed(url, f"{where}: the id is used twice")
        if process["parent"] is not None and process["parent"] not in seen:
            _malformed(url, f"{where}: its parent {process['parent']!r} is not an earlier process")
        seen.add(process["id"])
    data["summaries"] = _summaries(data.get("summaries", {}), seen, url)
    return data


def _summaries(found: object, ids: set[str], url: str) -> dict[str, dict[str, int]]:
    """The document's `summaries`, checked: each the summary of a process it lists, with
    `SUMMARY_FIELDS` (and any of `SUMMARY_EXTRAS`) as integers >= 0; other keys dropped."""
    if not isinstance(found, dict):
        _malformed(url, f"'summaries' is {_json_type(found)}, expected an object")
    summaries: dict[str, dict[str, int]] = {}
    for pid, summary in found.items():
        where = f"summaries[{pid!r}]"
        if pid not in ids:
            _malformed(url, f"{where}: no process has that id")
        if not isinstance(summary, dict):
            _malformed(url, f"{where} is {_json_type(summary)}, expected an object")
        for key in (*SUMMARY_FIELDS, *SUMMARY_EXTRAS):
            if key not in summary:
                if key in SUMMARY_FIELDS:
                    _malformed(url, f"{where} has no {key!r}")
                continue
            value = summary[key]
            if not _is(value, (int,)) or value < 0:
                got = str(value) if _is(value, (int,)) else _json_type(value)
                _malformed(url, f"{where}.{key} is {got}, expected an integer >= 0")
        summaries[pid] = {
            key: summary[key] for key in (*SUMMARY_FIELDS, *SUMMARY_EXTRAS) if key in summary
        }
    return summaries


def _is(value: object, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    return TYPE_NAMES.get(type(value), type(value).__name__)


def _malformed(url: str, what: str) -> NoReturn:
    raise ObserveError(f"{url} did not answer an observer tree: {what}", 1)


def load(url: str) -> dict[str, Any]:
    """Fetch and check one snapshot (see `fetch` and `parse` for the errors)."""
    return parse(fetch(url), url)


# Arranging


@dataclass(frozen=True, slots=True)
class Hidden:
    """The children of one supervisor that the snapshot left out (its summary, less the
    children it shows)."""

    count: int
    mailbox: int
    backlogged: int
    restarting: int
    restarts: int

    @classmethod
    def of(cls, summary: dict[str, int], shown: Iterable[dict[str, Any]]) -> "Hidden":
        listed = list(shown)
        return cls(
            count=summary["children"] - summary["shown"],
            mailbox=summary["mailbox"] - sum(p["mailbox"] for p in listed),
            backlogged=summary["backlogged"] - sum(p["mailbox"] > 0 for p in listed),
            restarting=summary["restarting"] - sum(p["status"] == "restarting" for p in listed),
            restarts=summary["restarts"] - sum(p["restarts"] for p in listed),
        )

    def text(self) -> str:
        """``+ 99,800 more: 12 messages waiting in 3, 0 restarting``."""
        return (
            f"+ {self.count:,} more: {self.mailbox:,} messages waiting in {self.backlogged:,}, "
            f"{self.restarting:,} restarting"
        )


@dataclass(frozen=True, slots=True)
class Row:
    """One process as shown: its entry, its depth in the tree and the guide drawn before its
    label (``├─ ``, ``└─ `` and the lines of its ancestors; empty in a flat list). A summary
    row (`more` set) stands for the children of `process` the snapshot left out."""

    process: dict[str, Any]
    depth: int
    guide: str
    more: Hidden | None = None


def label(process: dict[str, Any]) -> str:
    """What names a process: its registered name, else its class, else its child id."""
    for key in ("name", "class", "child_id", "id"):
        value = process[key]
        if value:
            return str(value)
    return "?"


def sort_key(sort: str) -> Callable[[dict[str, Any]], Any]:
    """The key `sorted` orders by for `--sort`: the busiest first (largest mailbox, most
    handler time, most restarts), names from A to Z. Ties keep the snapshot's order."""
    if sort == "name":
        return lambda p: label(p).casefold()
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    return lambda p: -p[sort]


def arrange(
    processes: Sequence[dict[str, Any]],
    sort: str | None,
    flat: bool,
    *,
    ascii_only: bool = False,
    summaries: dict[str, dict[str, int]] | None = None,
) -> list[Row]:
    """The processes in the order shown. As a tree (the default) each one under its parent,
    siblings in start order or by `sort`, and after the children of a supervisor that has a
    summary, a summary row for those left out; flat, one list in snapshot order or by
    `sort`, the summary rows at the end."""
    key = sort_key(sort) if sort is not None else None
    summaries = summaries or {}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for process in processes:
        children.setdefault(process["parent"], []).append(process)
    by_id = {p["id"]: p for p in processes} if summaries else {}
    more = {pid: Hidden.of(summary, children.get(pid, [])) for pid, summary in summaries.items()}
    if flat:
        ordered = sorted(processes, key=key) if key is not None else list(processes)
        return [Row(p, 0, "") for p in ordered] + [
            Row(by_id[pid], 0, "", hidden) for pid, hidden in more.items()
        ]
    tee, last, bar = ("|- ", "`- ", "|  ") if ascii_only else ("├─ ", "└─ ", "│  ")
    if key is not None:
        for siblings in children.values():
            siblings.sort(key=key)
    rows: list[Row] = []
    # Depth first without recursion: a stack of (process, depth, prefix, is-last-sibling,
    # and for a summary row what it stands for).
    Item = tuple[dict[str, Any], int, str, bool, Hidden | None]
    stack: list[Item] = [(p, 0, "", False, None) for p in reversed(children.get(None, []))]
    while stack:
        process, depth, prefix, is_last, hidden = stack.pop()
        guide = "" if depth == 0 else prefix + (last if is_last else tee)
        rows.append(Row(process, depth, guide, hidden))
        if hidden is not None:
            continue
        below: list[tuple[dict[str, Any], Hidden | None]] = [
            (child, None) for child in children.get(process["id"], [])
        ]
        if process["id"] in more:
            below.append((process, more[process["id"]]))
        inner = "" if depth == 0 else prefix + ("   " if is_last else bar)
        stack.extend(
            (child, depth + 1, inner, i == len(below) - 1, summary)
            for i, (child, summary) in reversed([*enumerate(below)])
        )
    return rows


def backlogged(process: dict[str, Any]) -> bool:
    """Whether a process falls behind: `BACKLOG_MESSAGES` waiting, or the oldest waiting
    `BACKLOG_SECONDS`."""
    age = process["oldest_age"]
    return process["mailbox"] >= BACKLOG_MESSAGES or (age is not None and age >= BACKLOG_SECONDS)


@dataclass(frozen=True, slots=True)
class Totals:
    """The header's figures over every process of a snapshot: `processes`, `mailbox`,
    `restarts` and `restarting` count the children its summaries stand for too (`hidden` of
    them), `memory` and `backlogged` only the processes it describes."""

    processes: int
    mailbox: int
    restarts: int
    memory: int
    restarting: int
    backlogged: int
    hidden: int = 0

    @classmethod
    def of(
        cls, processes: Iterable[dict[str, Any]], summaries: dict[str, dict[str, int]] | None = None
    ) -> "Totals":
        listed = list(processes)
        children: dict[str, list[dict[str, Any]]] = {}
        if summaries:
            for p in listed:
                if p["parent"] in summaries:
                    children.setdefault(p["parent"], []).append(p)
        more = [Hidden.of(s, children.get(pid, [])) for pid, s in (summaries or {}).items()]
        return cls(
            processes=len(listed) + sum(h.count for h in more),
            mailbox=sum(p["mailbox"] for p in listed) + sum(h.mailbox for h in more),
            restarts=sum(p["restarts"] for p in listed) + sum(h.restarts for h in more),
            memory=sum(p["memory"] for p in listed),
            restarting=sum(p["status"] == "restarting" for p in listed)
            + sum(h.restarting for h in more),
            backlogged=sum(backlogged(p) for p in listed),
            hidden=sum(h.count for h in more),
        )


# Units


def human_bytes(size: int) -> str:
    """Bytes in binary units: ``980 B``, ``1.4 KiB``, ``12.0 MiB``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def human_seconds(seconds: float | None) -> str:
    """A duration as short as it can be read: ``-`` (none), ``0s``, ``850us``, ``12.3ms``,
    ``500ms``, ``4.20s``, ``12.5s``, ``3m04s``, ``2h03m``, ``1d02h``."""
    if seconds is None:
        return "-"
    if seconds == 0:
        return "0s"
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f}us"
    if seconds < 0.1:
        return f"{seconds * 1e3:.1f}ms"
    if seconds < 1:
        return f"{seconds * 1e3:.0f}ms"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


# Drawing

COLUMNS: Final = (
    "process",
    "kind",
    "status",
    "restarts",
    "mailbox",
    "oldest",
    "handler",
    "current",
    "uptime",
    "memory",
)
RIGHT: Final = frozenset({"restarts", "mailbox", "oldest", "handler", "uptime", "memory"})


def cells(row: Row) -> list[str]:
    """A row's cells, in `COLUMNS` order (a summary row: its text, then blanks)."""
    if row.more is not None:
        return [row.guide + row.more.text(), *[""] * (len(COLUMNS) - 1)]
    p = row.process
    return [
        row.guide + label(p),
        p["kind"],
        p["status"],
        str(p["restarts"]),
        str(p["mailbox"]),
        human_seconds(p["oldest_age"]),
        human_seconds(p["handler_time"]),
        p["current"] or "-",
        human_seconds(p["uptime"]),
        human_bytes(p["memory"]),
    ]


def header(url: str, snapshot: dict[str, Any]) -> str:
    """The line above the table: which service, when, how many processes, the totals."""
    from urllib.parse import urlsplit

    totals = Totals.of(snapshot["processes"], snapshot.get("summaries"))
    when = time.strftime("%H:%M:%S", time.localtime(snapshot["taken_at"]))
    noun = "process" if totals.processes == 1 else "processes"
    shown = f" ({totals.processes - totals.hidden} shown)" if totals.hidden else ""
    parts = [
        urlsplit(url).netloc,
        when,
        f"{totals.processes} {noun}{shown}",
        f"mailbox {totals.mailbox}",
        f"restarts {totals.restarts}",
        f"memory {human_bytes(totals.memory)}",
    ]
    if totals.restarting:
        parts.append(f"{totals.restarting} restarting")
    if totals.backlogged:
        parts.append(f"{totals.backlogged} backlogged")
    return "  ".join(parts)


def order(sort: str | None, flat: bool) -> str:
    """How the rows are ordered, in words: ``tree``, ``flat by mailbox``, ..."""
    return ("flat" if flat else "tree") + (f" by {sort}" if sort else "")


def plain(url: str, snapshot: dict[str, Any], rows: Sequence[Row]) -> str:
    """The frame as aligned plain text (no colour, no width limit): what ``--once`` prints
    when stdout is not a terminal, one line per process, grep- and diff-friendly."""
    table = [list(COLUMNS), *(cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = [header(url, snapshot)]
    for line in table:
        padded = [
            cell.rjust(width) if column in RIGHT else cell.ljust(width)
            for cell, width, column in zip(line, widths, COLUMNS, strict=True)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines) + "\n"


# On a terminal too narrow for every column these go first, in this order; the process,
# its status, restarts and mailbox always stay.
DROPPED_FIRST: Final = ("current", "kind", "oldest", "uptime", "memory", "handler")
GAP: Final = 2  # spaces between two columns
NAME_ROOM: Final = 16  # the process column is never squeezed below this for another column


def fit(texts: Sequence[Sequence[str]], width: int) -> tuple[list[int], int]:
    """Which columns fit `width` (indexes into `COLUMNS`), and the process column's width.

    Each figure column is as wide as its widest cell; if they do not all fit beside the
    process column (at least `NAME_ROOM`, or its widest name if narrower), the columns of
    `DROPPED_FIRST` go one by one until they do. The process column takes what is left."""

    def widest(index: int) -> int:
        return max([len(COLUMNS[index]), *(len(line[index]) for line in texts)])

    names = widest(0)
    shown = list(range(len(COLUMNS)))
    dropping = [COLUMNS.index(column) for column in DROPPED_FIRST]

    def others() -> int:
        return sum(widest(i) + GAP for i in shown[1:])

    while dropping and others() + min(names, NAME_ROOM) > width:
        shown.remove(dropping.pop(0))
    return shown, max(min(names, width - others()), 1)


def styled(
    url: str,
    snapshot: dict[str, Any],
    rows: Sequence[Row],
    flat: bool,
    sort: str | None,
    *,
    width: int,
    limit: int | None = None,
    problem: str | None = None,
    keys: bool = False,
) -> "RenderableType":
    """The frame for a terminal `width` columns wide: the header, then a rich table whose
    restarting rows are red and backlogged ones yellow (bold only, under NO_COLOR). Columns
    that do not fit are left out (see `fit`). `limit` caps the rows (a live view shows what
    fits the screen and says how many more there are); `problem` is shown in red under the
    header (e.g. the service went away); `keys` adds the live view's keys to the last line."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [Text(header(url, snapshot), style="bold")]
    if problem is not None:
        parts.append(Text(problem, style="bold red"))
    shown = rows if limit is None else rows[: max(limit, 0)]
    texts = [cells(row) for row in shown]
    columns, names = fit(texts, width)
    table = Table(
        box=None, padding=(0, GAP, 0, 0), pad_edge=False, expand=False, header_style="bold"
    )
    for index in columns:
        column = COLUMNS[index]
        table.add_column(
            column,
            justify="right" if column in RIGHT else "left",
            no_wrap=True,
            overflow="ellipsis",
            width=names if index == 0 else None,
        )
    for row, line in zip(shown, texts, strict=True):
        values: list[RenderableType] = [_styled_name(row), *(line[i] for i in columns[1:])]
        table.add_row(*values, style=_row_style(row))
    parts.append(table)
    notes = []
    if len(shown) < len(rows):
        more = len(rows) - len(shown)
        notes.append(f"{more} more below" + ("" if sort else ", --sort puts the busiest first"))
    left_out = [COLUMNS[i] for i in range(len(COLUMNS)) if i not in columns]
    if left_out:
        notes.append(f"a wider terminal shows {', '.join(left_out)}")
    if keys:
        notes.insert(0, f"{order(sort, flat)}: q quits, s sorts, f flat/tree")
    if notes:
        parts.append(Text("; ".join(notes), style="dim"))
    return Group(*parts)


def _styled_name(row: Row) -> "Text":
    """The process cell: the tree's guide dim, a supervisor's name bold."""
    from rich.text import Text

    name = Text()
    name.append(row.guide, style="dim")
    if row.more is not None:
        name.append(row.more.text(), style="italic")
        return name
    name.append(label(row.process), style="bold" if row.process["kind"] != "worker" else "")
    return name


def _row_style(row: Row) -> str:
    process = row.process
    if row.more is not None:
        return "bold red" if row.more.restarting else "dim"
    if process["status"] == "restarting":
        return "bold red"
    if backlogged(process):
        return "bold yellow"
    if process["status"] in ("starting", "stopping"):
        return "dim"
    return ""


def as_json(url: str, snapshot: dict[str, Any], rows: Sequence[Row]) -> dict[str, Any]:
    """``--once --format json``: the snapshot's processes in the order shown, each with its
    depth and whether it is backlogged, the summaries of the supervisors whose children were
    left out, and the totals (schema: observe.schema.json)."""
    summaries = snapshot.get("summaries", {})
    totals = Totals.of(snapshot["processes"], summaries)
    return {
        "url": url,
        "taken_at": snapshot["taken_at"],
        "totals": {
            "processes": totals.processes,
            "hidden": totals.hidden,
            "mailbox": totals.mailbox,
            "restarts": totals.restarts,
            "memory": totals.memory,
            "restarting": totals.restarting,
            "backlogged": totals.backlogged,
        },
        "processes": [
            {
                **{key: row.process[key] for key in FIELDS},
                "depth": row.depth,
                "backlogged": backlogged(row.process),
            }
            for row in rows
            if row.more is None
        ],
        "summaries": summaries,
    }


# Running


def console() -> "Console":
    """A rich console on stdout (colour unless NO_COLOR, as rich decides)."""
    from rich.console import Console

    return Console(highlight=False)


def _ascii_only() -> bool:
    encoding = (getattr(sys.stdout, "encoding", None) or "ascii").lower().replace("-", "")
    return encoding not in ("utf8", "utf16", "utf32")


def rows_of(snapshot: dict[str, Any], sort: str | None, flat: bool) -> list[Row]:
    """`arrange` for a checked snapshot, its summaries' rows included."""
    return arrange(
        snapshot["processes"],
        sort,
        flat,
        ascii_only=_ascii_only(),
        summaries=snapshot.get("summaries"),
    )


def once(url: str, *, sort: str | None, flat: bool, json_output: bool) -> None:
    """Print one frame of the tree at `url` (the observer JSON's URL). Raises ObserveError."""
    snapshot = load(url)
    rows = rows_of(snapshot, sort, flat)
    if json_output:
        sys.stdout.write(json.dumps(as_json(url, snapshot, rows), indent=2) + "\n")
    elif sys.stdout.isatty():
        screen = console()
        screen.print(styled(url, snapshot, rows, flat, sort, width=screen.width))
    else:
        sys.stdout.write(plain(url, snapshot, rows))
        sys.stdout.flush()


def watch(url: str, *, interval: float, sort: str | None, flat: bool) -> int:
    """Poll `url` every `interval` seconds and draw each snapshot, until `q` (exit status 0)
    or Ctrl-C (a KeyboardInterrupt, for the entry point to turn into 130). `s` moves to the
    next sort order and `f` switches between the tree and the flat list (redrawn at once).
    While the service cannot be reached the last snapshot stays up under "unreachable,
    retrying". Raises ObserveError for what retrying cannot mend (not an observer tree, a
    4xx answer).

    On a terminal the view is drawn in place (rich Live, the alternate screen) and polled
    from a thread (`Poller`), so keys answer at once even while a slow service or a large
    tree is fetched; otherwise (stdout piped, or a terminal that cannot move its cursor:
    TERM=dumb) each snapshot is printed as plain text, one after the other."""
    screen = console()
    if not sys.stdout.isatty() or not screen.is_interactive:  # piped, or TERM=dumb
        _print_each(url, interval=interval, sort=sort, flat=flat)
    from rich.live import Live

    last: dict[str, Any] | None = None
    problem: str | None = None
    with (
        Keys() as keys,
        Poller(url, interval) as poller,
        Live(console=screen, screen=True, auto_refresh=False) as live,
    ):
        while True:
            polled = poller.take()
            if isinstance(polled, ObserveError):
                if not polled.retry:
                    raise polled
                problem = f"unreachable, retrying every {interval:g}s: {polled}"
            elif polled is not None:
                last, problem = polled, None
            if last is None:
                live.update(_waiting(url, problem), refresh=True)
            else:
                rows = rows_of(last, sort, flat)
                width, height = screen.size
                # Beside the table's rows: the header (wrapped), the problem line, the table's
                # head, the keys and notes line; and a line spare for the cursor.
                above = -(-len(header(url, last)) // width) + (problem is not None) + 3
                frame = styled(
                    url,
                    last,
                    rows,
                    flat,
                    sort,
                    width=width,
                    limit=height - above,
                    problem=problem,
                    keys=True,
                )
                live.update(frame, refresh=True)
            key = keys.wait(poller.ready)
            if key == "q":
                return 0
            if key == "s":
                sort = next_sort(sort)
                poller.url = ranked(poller.url, sort)  # (the next poll asks for it)
            elif key == "f":
                flat = not flat


class Poller:
    """Fetches the snapshot every `interval` seconds in a daemon thread (a context manager).

    `take()` returns what the last poll brought that was not taken yet: a snapshot, an
    ObserveError, or None. After each poll a byte is sent on a socket pair whose reading end
    is `ready`, for a `select` to wake on (a socket, as Windows' select takes no pipe).
    """

    def __init__(self, url: str, interval: float) -> None:
        import socket
        import threading

        self.url = url
        self.interval = interval
        self.ready, self._writer = socket.socketpair()
        self._lock = threading.Lock()
        self._result: dict[str, Any] | ObserveError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otpgen-observe", daemon=True)

    def __enter__(self) -> "Poller":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # The thread may be inside a fetch (up to TIMEOUT): it is a daemon and is not waited
        # for; the sockets stay open until the process ends, so it never sends on a closed one.
        self._stop.set()

    def take(self) -> "dict[str, Any] | ObserveError | None":
        with self._lock:
            result, self._result = self._result, None
        return result

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            result: dict[str, Any] | ObserveError
            try:
                result = load(self.url)
            except ObserveError as error:
                result = error
            with self._lock:
                self._result = result
            self._writer.send(b".")
            if not getattr(result, "retry", True):
                return  # nothing to poll for: the view ends on this error
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


def next_sort(sort: str | None) -> str | None:
    """The order the `s` key moves to: start order, then each of `SORTS`, then around."""
    orders: list[str | None] = [None, *SORTS]
    return orders[(orders.index(sort) + 1) % len(orders)]


def _waiting(url: str, problem: str | None) -> "Text":
    from rich.text import Text

    return Text(problem or f"{url}: waiting for the first snapshot", style="bold red")


def _print_each(url: str, *, interval: float, sort: str | None, flat: bool) -> NoReturn:
    """The watch when stdout is not a terminal: a plain frame per poll, a blank line between;
    an unreachable service is one line on stderr per failed poll."""
    while True:
        started = time.monotonic()
        try:
            snapshot = load(url)
        except ObserveError as error:
            if not error.retry:
                raise
            sys.stderr.write(f"unreachable, retrying: {error}\n")
            sys.stderr.flush()
        else:
            rows = rows_of(snapshot, sort, flat)
            sys.stdout.write(plain(url, snapshot, rows) + "\n")
            sys.stdout.flush()
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


class Keys:
    """Keys typed on stdin while the live view runs (a context manager).

    On a terminal, stdin is put in cbreak mode (keys arrive as typed, unechoed; Ctrl-C still
    sends SIGINT) and given back as it was on the way out. Without a terminal on stdin there
    are no keys: `wait` only waits.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.saved: list[Any] | None = None

    def __enter__(self) -> "Keys":
        try:
            import termios
            import tty
        except ImportError:  # Windows: no keys (Ctrl-C still ends the view)
            return self
        if sys.stdin is not None and sys.stdin.isatty():
            self.fd = sys.stdin.fileno()
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self.saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def wait(self, other: "socket.socket") -> str | None:
        """Wait until one of `KEYS` is typed (returned, lowercased) or the socket `other` is
        readable (its bytes are read away; None is returned)."""
        import select

        watched: list[Any] = [other] if self.fd is None else [self.fd, other]
        while True:
            ready = select.select(watched, [], [])[0]
            if other in ready:
                other.recv(4096)
                return None
            typed = os.read(ready[0], 64).decode(errors="replace").lower()
            for key in typed:
                if key in KEYS:
                    return key


def run(
    url: str,
    *,
    interval: float,
    sort: str | None,
    flat: bool,
    once_only: bool,
    json_output: bool,
    limit: str = str(LIMIT),
) -> int:
    """The ``observe`` command: check the URL, then one frame or the watch. Returns the exit
    status; raises ObserveError (one line, its code) for a bad URL or limit or a failed
    ``--once``. `limit` is ``--limit``: how many children of each supervisor to ask for (a
    number, or ``all``); the service sums up the others."""
    if json_output and not once_only:
        raise ObserveError("--format json prints one snapshot: add --once", 2)
    target = ranked(tree_url(url, parse_limit(limit)), sort)
    if once_only:
        once(target, sort=sort, flat=flat, json_output=json_output)
        return 0
    return watch(target, interval=interval, sort=sort, flat=flat)
