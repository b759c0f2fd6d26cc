"""Three-way merge of a generated file: the pristine render, the user's file, the new render.

merge3 finds the regions each side changed; where both changed the same region differently,
both versions are kept between git's conflict markers.
"""

CONFLICT_START = "<<<<<<< "
CONFLICT_END = ">>>>>>> "


def _has_line_starting(text: str, prefix: str) -> bool:
    return text.startswith(prefix) or f"\n{prefix}" in text


def has_conflict_markers(text: str) -> bool:
    """Whether `text` carries unresolved merge conflict markers (lines starting them)."""
    return _has_line_starting(text, CONFLICT_START) and _has_line_starting(text, CONFLICT_END)


def merge(base: str, ours: str, theirs: str, theirs_label: str) -> tuple[str, bool]:
    """Three-way merge of `ours` and `theirs` from `base`: (text, had conflicts).

    Conflicts get git's markers: `<<<<<<< yours ...`, `=======`, `>>>>>>> theirs_label`.
    """
    import merge3

    merger = merge3.Merge3(
        base.splitlines(keepends=True),
        ours.splitlines(keepends=True),
        theirs.splitlines(keepends=True),
    )
    out: list[str] = []
    conflicted = False

    def line(marker: str) -> None:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(marker + "\n")

    for group in merger.merge_groups():  # one pass over the regions
        if group[0] == "conflict":
            conflicted = True
            line(CONFLICT_START + "yours (edited since otpgen wrote it)")
            out.extend(group[2])
            line("=======")
            out.extend(group[3])
            line(CONFLICT_END + theirs_label)
        else:
            out.extend(group[1])
    return "".join(out), conflicted
