"""Run the kernel benchmarks: `python benchmarks/run.py [--quick] [--only NAME] [--json PATH]`.

Groups (one module each): `call` (GenServer call round trip against a bare-asyncio floor,
pykka and triotp), `memory` (bytes per idle process, start and stop times, in fresh
subprocesses) and `restart` (crash-to-answering latency under a supervisor). Each prints
a table of medians with their spread and the ratios and targets derived from them;
`--json PATH` also writes every sample. `--quick` is a smoke-test size (well under 30 s).
The figures are reports, not assertions: the exit status is 0 whether targets are met.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness import (
    KERNEL_DIR,
    Config,
    Group,
    OtherLoad,
    format_group,
    kernel_digest,
    load_average,
    machine,
    use_kernel,
)

GROUPS = {"call": "kernel_call", "memory": "kernel_memory", "restart": "kernel_restart"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small, fast smoke-test run")
    parser.add_argument(
        "--only", choices=sorted(GROUPS), action="append", help="run only this group (repeatable)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    args = parser.parse_args(argv)

    config = Config.smoke() if args.quick else Config.full()
    use_kernel()
    info = machine()
    print(
        f"Python {info['python']} on {info['cpus']} CPUs ({info['cpu'] or info['platform']}); "
        f"kernel at {info['kernel_commit'] or '?'}"
        f"{' + uncommitted changes' if info['kernel_modified'] else ''}"
        f" [{info['kernel_digest']}]; {'quick' if config.quick else 'full'} run; "
        f"load average {info['load_average']}"
    )
    results: list[Group] = []
    started = time.perf_counter()
    for name in args.only or list(GROUPS):
        module = importlib.import_module(GROUPS[name])
        run: Callable[[Config], Group] = module.run
        group_started = time.perf_counter()
        with OtherLoad() as load:
            group = run(config)
        group.other_load = load.cpus
        print()
        print(format_group(group))
        print(
            f"({time.perf_counter() - group_started:.1f} s; other processes used "
            f"{'?' if load.cpus is None else f'{load.cpus:.2f}'} of {info['cpus']} CPUs meanwhile)"
        )
        sys.stdout.flush()
        results.append(group)
    elapsed = time.perf_counter() - started
    info["load_average_after"] = load_average()
    print(f"\ntotal {elapsed:.1f} s; load average after {info['load_average_after']}")
    info["kernel_digest_source_after"] = kernel_digest(KERNEL_DIR)
    if info["kernel_digest_source_after"] != info["kernel_digest"]:
        print(
            f"note: templates/kernel changed during the run; these figures are for the "
            f"snapshot taken at its start ({info['kernel_digest']})"
        )

    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "machine": info,
            "config": dataclasses.asdict(config),
            "elapsed_s": elapsed,
            "groups": [group.to_json() for group in results],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
