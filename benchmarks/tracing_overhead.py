"""What the tracing pattern's hooks cost per call and per cast, with and without an SDK.

`python benchmarks/tracing_overhead.py [--rounds N] [--number N]` renders the `tracing`
pattern with this checkout's otpgen into a temporary project (its kernel vendored there
too), imports it, and times, in one event loop, `await server.call(1)` back to back and
`server.cast(1)` (a batch, then one call as the barrier that they were all handled),
CPU time per message, under five settings:

- `no hooks`: the kernel as a service without tracing runs it (one flag check);
- `hooks that do nothing`: the kernel's instrumented path alone (the token carried, the
  hooks called), what any hooks cost before they do anything;
- `hooks, API only`: `install()` with no SDK configured: the API's proxy provider hands
  out no-op spans (the cost a service pays for having the module while exporting
  nothing);
- `hooks, SDK, sampled out`: an SDK `TracerProvider` whose sampler drops every trace
  (`ALWAYS_OFF`: the price of the spans a `TraceIdRatioBased` sampler does not keep);
- `hooks, SDK, exported`: the SDK recording every span into a `BatchSpanProcessor`
  whose exporter drops the batches (the production setup without the network);
- `hooks, SDK, exported, in a span`: the same, each call made inside a caller's span
  (the trace a request carries in; its own span is not counted: it is started once
  around the whole loop).

Beside them, the floor of the exported setting: the SDK alone doing what tracing one
call needs at the least (a CLIENT span, a SERVER span under it made current and
restored, both ended), no kernel, no hooks.

Settings are interleaved round by round so machine drift hits all of them; the table
shows each one's median over the rounds and quartiles in CPU microseconds per message
(`time.process_time`: the wall clock would count other processes' slices on a shared
machine), and the overhead over `no hooks` as the median of per-round differences.
Figures are a report, not a test. Needs opentelemetry-api and opentelemetry-sdk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from harness import OtherLoad, load_average, otpgen_command

NONE = "no hooks"
NOP = "hooks that do nothing"
API = "hooks, API only (no SDK)"
SAMPLED_OUT = "hooks, SDK, sampled out"
EXPORTED = "hooks, SDK, exported"
IN_SPAN = "hooks, SDK, exported, in a span"
SETTINGS = (NONE, NOP, API, SAMPLED_OUT, EXPORTED, IN_SPAN)
FLOOR = "floor: the SDK alone, 2 spans (no kernel)"


def render(root: Path) -> tuple[ModuleType, ModuleType]:
    """Render the tracing pattern into a fresh project under `root`; import it and the
    project's kernel."""
    otpgen, env = otpgen_command()
    (root / "src" / "benchshop").mkdir(parents=True)
    (root / "src" / "benchshop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "benchshop"\nversion = "0"\n')
    subprocess.run(
        [*otpgen, "new", "tracing", "--no-input"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(root / "src"))
    return (
        importlib.import_module("benchshop.tracing"),
        importlib.import_module("benchshop.otp"),
    )


def providers() -> dict[str, Any]:
    """The tracer provider of each hooked setting."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    except ImportError:
        raise SystemExit(
            "opentelemetry-sdk is not installed: pip install opentelemetry-sdk"
        ) from None

    class Discard(SpanExporter):
        """Takes every batch and drops it: the export without the network."""

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    class Nop:
        """Hooks that do nothing."""

        def on_call(self, process: Any, request: object) -> object:
            return None

        def on_cast(self, process: Any, msg: object) -> object:
            return None

        def on_handle(self, process: Any, kind: str, msg: object, token: object) -> object:
            return None

        def on_handled(self, process: Any, state: object, error: BaseException | None) -> None:
            return None

    exported = TracerProvider()
    exported.add_span_processor(BatchSpanProcessor(Discard(), max_queue_size=1 << 16))
    # the global provider, never set: the API's proxy hands out no-op tracers
    return {
        NOP: Nop(),
        API: trace.get_tracer_provider(),
        SAMPLED_OUT: TracerProvider(sampler=ALWAYS_OFF),
        EXPORTED: exported,
        IN_SPAN: exported,
    }


@contextlib.contextmanager
def caller_span(provider: Any, setting: str) -> Iterator[None]:
    if setting != IN_SPAN:
        yield
        return
    with provider.get_tracer("bench").start_as_current_span("request"):
        yield


async def measure(rounds: int, number: int) -> dict[str, dict[str, list[float]]]:
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-tracing-") as tmp:
        tracing, otp = render(Path(tmp))

        class Echo(otp.GenServer):  # type: ignore[misc,name-defined]
            async def handle_call(self, request: object, caller: object) -> object:
                return request

            async def handle_cast(self, msg: object) -> None:
                return None

        server = await Echo.start()
        by_setting = providers()
        samples: dict[str, dict[str, list[float]]] = {
            kind: {s: [] for s in SETTINGS} for kind in ("call", "cast")
        }
        try:
            for _ in range(rounds):
                for setting in SETTINGS:
                    provider = by_setting.get(setting)
                    if setting == NONE:
                        otp.instrument(None)
                    elif setting == NOP:
                        otp.instrument(provider)
                    else:
                        tracing.install(provider)
                    with caller_span(provider, setting):
                        for kind in ("call", "cast"):
                            samples[kind][setting].append(await timed(server, kind, number))
                otp.instrument(None)
                samples["call"].setdefault(FLOOR, []).append(floor(by_setting[EXPORTED], number))
        finally:
            otp.instrument(None)
            await server.stop()
            exported = by_setting[EXPORTED]
            exported.shutdown()
    return samples


async def timed(server: Any, kind: str, number: int) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        if kind == "call":
            for _ in range(number):
                await server.call(1)
        else:
            for _ in range(number):
                server.cast(1)
            await server.call(1)  # every cast before it has been handled
        return (time.process_time() - start) / number * 1e6
    finally:
        gc.enable()


def floor(provider: Any, number: int) -> float:
    """CPU µs the SDK takes for the spans of one call, without the kernel."""
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind

    tracer = provider.get_tracer("floor")
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        for _ in range(number):
            client = tracer.start_span("otp.call Echo", kind=SpanKind.CLIENT)
            parent = trace.set_span_in_context(client)
            server = tracer.start_span("otp.handle_call Echo", parent, SpanKind.SERVER)
            token = context.attach(trace.set_span_in_context(server))
            context.detach(token)
            server.end()
            client.end()
        return (time.process_time() - start) / number * 1e6
    finally:
        gc.enable()


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def report(
    samples: dict[str, dict[str, list[float]]],
    rounds: int,
    number: int,
    other_load: float | None,
) -> None:
    others = "?" if other_load is None else f"{other_load:.2f}"
    print(
        f"tracing hooks, CPU µs per message: median [q1 .. q3] of {rounds} rounds of "
        f"{number:,} messages; python {sys.version.split()[0]}; load average "
        f"{load_average()}; other processes used {others} CPUs meanwhile"
    )
    width = max(len(s) for s in (*SETTINGS, FLOOR))
    for kind, by_setting in samples.items():
        print(f"{kind}:")
        base = by_setting[NONE]
        for setting, values in by_setting.items():
            if setting == FLOOR:
                q1, q3 = quartiles(values)
                median = statistics.median(values)
                print(f"  {setting:<{width}}  {median:7.2f}  [{q1:6.2f} .. {q3:6.2f}]")
                continue
            q1, q3 = quartiles(values)
            extra = statistics.median(v - b for v, b in zip(values, base, strict=True))
            ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
            print(
                f"  {setting:<{width}}  {statistics.median(values):7.2f}  "
                f"[{q1:6.2f} .. {q3:6.2f}]  +{extra:5.2f} µs  {ratio:4.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=11, help="rounds per setting")
    parser.add_argument("--number", type=int, default=20_000, help="messages per round")
    args = parser.parse_args()
    with OtherLoad() as other:
        samples = asyncio.run(measure(args.rounds, args.number))
    report(samples, args.rounds, args.number, other.cpus)


if __name__ == "__main__":
    main()
