"""What a command tells the user: one report per result, printed as text or as JSON.

Both formats are made from the same `Report`, so they cannot disagree: every file, note and
next step the text shows is in the JSON too.
"""

import json
from typing import Any

from otpgen._manifest import MANIFEST
from otpgen._plan import DELETED, EDITED, Action, Finding, Plan
from otpgen._record import field, frozen


@frozen
class Report:
    """A command's result: data for `--format json`, lines for people (stdout, stderr)."""

    data: dict[str, Any]
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    exit_code: int = 0

    def render(self, as_json: bool) -> tuple[str, str]:
        """(stdout, stderr) to print."""
        if as_json:
            return json.dumps(self.data, indent=2) + "\n", ""
        return "".join(f"{line}\n" for line in self.out), "".join(f"{li}\n" for li in self.err)


_DONE = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.MERGE: "merged",
    Action.CONFLICT: "conflict",
    Action.KEEP: "kept",
    Action.REMOVE: "removed",
}


_QUIET = ("", EDITED, DELETED, "already as rendered")


def _line(action: Action, path: str, why: str, dry_run: bool) -> str:
    verb = action.value if dry_run else _DONE[action]
    return f"{verb:9} {path}" + (f"  ({why})" if why else "")


def plan_report(
    plan: Plan, *, dry_run: bool, fold: tuple[str, str] | None = None, diffs: bool = True
) -> Report:
    """The report of `new`, `init` or `update`; `fold` = (path prefix, label) folds the
    files under that prefix (the vendored kernel, a whole new repository) into one line;
    `diffs=False` leaves a dry run's diffs out (a new repository's would be all of it)."""
    files = [
        {"path": c.path.as_posix(), "action": c.action.value, "why": c.why} for c in plan.changes
    ]
    conflicts = [c.path.as_posix() for c in plan.conflicts]
    written = [c for c in plan.changes if c.writes]
    data: dict[str, Any] = {
        "command": plan.command,
        "dry_run": dry_run,
        "root": str(plan.root),
        **{k: v for k, v in plan.details.items() if k != "module"},
        "files": files,
        "conflicts": conflicts,
        "notes": list(plan.notes),
        "next": plan.next_step,
    }
    out: list[str] = []
    folded = 0
    for change in plan.changes:
        name = change.path.as_posix()
        if fold and name.startswith(fold[0]) and change.action is not Action.CONFLICT:
            folded += change.writes
            continue
        if dry_run or change.writes or change.why not in _QUIET:
            out.append(_line(change.action, name, change.why, dry_run))
    if folded:
        assert fold is not None
        verb = "create" if dry_run else "created"
        out.append(f"{verb:9} {fold[1]} ({folded} file{'s' if folded > 1 else ''})")
    if dry_run:
        out += [c.diff() for c in plan.changes if diffs and c.diff()]
        out.append("dry run: nothing written")
    elif not written and plan.manifest.same_as(plan.previous):
        out.append("nothing to do: every file is already as the templates render it")
    elif not out:  # the templates changed in ways that leave every file as it is
        out.append(
            "nothing to change: every file is already as the templates render it; "
            f"{MANIFEST} now records the templates installed"
        )
    err = list(plan.notes)
    if conflicts:
        err.append(f"{len(conflicts)} file(s) with conflicts: {plan.next_step}")
    elif plan.next_step and not dry_run:
        out.append(f"next: {plan.next_step}")
    return Report(data, out, err, 1 if conflicts else 0)


def check_report(findings: list[Finding]) -> Report:
    """The report of `check`: the failing findings, each with its cause and its fix."""
    failing = [f for f in findings if f.failing]
    info = [f for f in findings if not f.failing]
    data = {
        "ok": not failing,
        "findings": [
            {"path": f.path, "cause": f.cause, "fix": f.fix, "failing": f.failing} for f in findings
        ],
    }
    out = [f"{f.path}: {f.cause}; fix: {f.fix}" for f in failing]
    edited = [f for f in info if f.cause == EDITED]
    out += [f"{f.path}: {f.cause}" for f in info if f.cause != EDITED]
    if edited:
        out.append(
            f"{len(edited)} generated file(s) edited by you: fine, `otpgen update` keeps them"
        )
    out.append("up to date" if not failing else f"{len(failing)} problem(s)")
    return Report(data, out, [], 1 if failing else 0)
