"""The one bench harness: every `make bench` in this repository measures through it.

What it does the same way everywhere:

* every measurement runs in a **fresh process** (a `Case` is a command line), and its
  peak memory is that process's own: its VmHWM when it reports through :func:`report`,
  else the max RSS `os.wait4` gives for it and its descendants (keep the harness process
  small: a forked child starts from its parent's RSS). An earlier measurement can never
  leak its peak into a later one;
* a figure is always measured **beside its floor in the same run**: one warm-up of each
  (discarded), then `repeat` interleaved rounds (figure, floor, figure, floor, ...), so
  machine noise hits both alike;
* the statistic is the **minimum** (the run least disturbed by other work on a shared
  machine); the **median** is printed beside it. Ratios are min / min.

A case's time is the process's wall time, unless the child reports its own with
:func:`report` (a JSON line on stdout: `seconds`, `rows`), which then excludes the
interpreter start and imports, so a figure and its floor time the same span.

Two kinds of rows:

* `Pair`: a figure and its floor (seconds, rows/s, ratio, peak memory of each);
* `Slope`: a tool's start-up and marginal cost per partition, from runs of two sizes
  (7 and 31 partitions): marginal = (t31 - t7) / 24, start-up = t7 - 7 x marginal; for
  the pipeline and for the tool's no-op pipeline of the same shape.

Benches are not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

WARMUP = int(os.environ.get("BENCH_WARMUP", "1"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


# ------------------------------------------------------------------------ in the child
def own_peak_mib() -> float:
    """This process's own peak resident memory (VmHWM: reset by exec, unlike ru_maxrss,
    which a child inherits from the process that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(seconds: float, rows: int | None = None, **extra: object) -> None:
    """Called by a child process: the time (and rows) of the work it measured itself,
    and its own peak memory."""
    print(
        json.dumps({"seconds": seconds, "rows": rows, "peak_mib": own_peak_mib(), **extra}),
        flush=True,
    )


def report_peak() -> None:
    """Called by a child process timed by its wall time: its own peak memory only."""
    print(json.dumps({"peak_mib": own_peak_mib()}), flush=True)


# ----------------------------------------------------------------------- in the parent
@dataclass(frozen=True)
class Case:
    """One command line, run in a fresh process per measurement."""

    label: str
    argv: Sequence[str | os.PathLike[str]]
    env: dict[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None


@dataclass
class Sample:
    seconds: float  # reported by the child, or the process's wall time
    wall: float  # the process's wall time
    rows: int | None
    peak_mib: float  # this process's own max RSS


@dataclass
class Samples:
    case: Case
    runs: list[Sample] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(s.seconds for s in self.runs)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.runs)

    @property
    def wall_min(self) -> float:
        return min(s.wall for s in self.runs)

    @property
    def wall_median(self) -> float:
        return statistics.median(s.wall for s in self.runs)

    @property
    def rows(self) -> int | None:
        return self.runs[-1].rows if self.runs else None

    @property
    def peak_mib(self) -> float:
        return max(s.peak_mib for s in self.runs)


class BenchError(RuntimeError):
    pass


def run_case(case: Case) -> Sample:
    """Run the case's command once in a new process; its own time, rows and peak RSS."""
    env = None if case.env is None else {**os.environ, **case.env}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(a) for a in case.argv],
        env=env,
        cwd=case.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Read both pipes to the end, then reap this child alone, with its own rusage.
    out, err = _drain(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "\n".join((err or out).strip().splitlines()[-15:])
        raise BenchError(f"{case.label}: exit {proc.returncode}\n{tail}")
    reported: dict[str, object] = {}
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{") and '"peak_mib"' in line:
            reported = json.loads(line)
            break
    seconds = float(reported.get("seconds", wall))  # type: ignore[arg-type]
    rows = reported.get("rows")
    # A child that reports says its own peak; otherwise wait4's max RSS of the child and
    # its descendants, which is at least what this (small) harness process held at fork.
    peak = float(reported.get("peak_mib") or usage.ru_maxrss / 1024)  # type: ignore[arg-type]
    return Sample(seconds, wall, int(rows) if rows is not None else None, peak)


def _drain(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Read stdout and stderr to the end without reaping the process."""
    import threading

    chunks: dict[str, str] = {}

    def read(name: str, stream) -> None:
        chunks[name] = stream.read()
        stream.close()

    threads = [
        threading.Thread(target=read, args=("out", proc.stdout)),
        threading.Thread(target=read, args=("err", proc.stderr)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return chunks["out"], chunks["err"]


def measure(
    cases: Sequence[Case], *, repeat: int = REPEAT, warmup: int = WARMUP, console: Console
) -> list[Samples]:
    """Warm up each case, then `repeat` interleaved rounds over all of them."""
    results = [Samples(c) for c in cases]
    for _ in range(warmup):
        for c in cases:
            with console.status(f"warm-up: {c.label}"):
                run_case(c)
    for i in range(repeat):
        for r in results:
            with console.status(f"round {i + 1}/{repeat}: {r.case.label}"):
                r.runs.append(run_case(r.case))
    return results


@dataclass(frozen=True)
class Pair:
    """A figure beside its floor."""

    name: str
    figure: Case
    floor: Case
    goal: str = ""


@dataclass(frozen=True)
class Slope:
    """A tool's start-up and marginal cost per partition, for its pipeline and its no-op.

    `figure(n)` and `floor(n)` give the case that runs n partitions in one fresh process.
    """

    name: str
    figure: dict[int, Case]
    floor: dict[int, Case]
    goal: str = "marginal <= 1.2x the no-op's"


def _fit(samples: dict[int, Samples], stat: str) -> tuple[float, float]:
    (n1, s1), (n2, s2) = sorted(samples.items())
    t1, t2 = getattr(s1, stat), getattr(s2, stat)
    marginal = (t2 - t1) / (n2 - n1)
    return t1 - n1 * marginal, marginal


def _mib(x: float) -> str:
    return f"{x:,.0f}"


def run(
    title: str,
    rows: Sequence[Pair | Slope],
    *,
    repeat: int = REPEAT,
    warmup: int = WARMUP,
    console: Console | None = None,
    note: str = "",
) -> dict[str, dict[str, float]]:
    """Measure every row and print one table per kind; return the figures by row name."""
    console = console or Console(width=160)
    load = os.getloadavg()
    figures: dict[str, dict[str, float]] = {}
    pairs = [r for r in rows if isinstance(r, Pair)]
    slopes = [r for r in rows if isinstance(r, Slope)]
    if pairs:
        table = Table(
            title=f"{title}: figure beside its floor, same run "
            f"(min of {repeat} after {warmup} warm-up; median in brackets)"
        )
        for col in (
            "bench",
            "rows",
            "figure s",
            "rows/s",
            "peak MiB",
            "floor s",
            "floor rows/s",
            "floor peak MiB",
            "ratio",
            "goal",
        ):
            table.add_column(col, justify="left" if col in ("bench", "goal") else "right")
        for p in pairs:
            fig, flo = measure([p.figure, p.floor], repeat=repeat, warmup=warmup, console=console)
            ratio = fig.min / flo.min
            console.print(
                f"{p.name}: {fig.min:.2f} s (peak {fig.peak_mib:,.0f} MiB) beside its floor "
                f"{flo.min:.2f} s (peak {flo.peak_mib:,.0f} MiB): {ratio:.2f}x"
            )
            n = fig.rows
            figures[p.name] = {
                "seconds": fig.min,
                "median": fig.median,
                "floor": flo.min,
                "floor_median": flo.median,
                "ratio": ratio,
                "peak_mib": fig.peak_mib,
                "floor_peak_mib": flo.peak_mib,
                **({"rows": n, "rows_per_s": n / fig.min} if n else {}),
            }
            table.add_row(
                p.name,
                f"{n:,}" if n else "",
                f"{fig.min:.2f} ({fig.median:.2f})",
                f"{n / fig.min:,.0f}" if n else "",
                _mib(fig.peak_mib),
                f"{flo.min:.2f} ({flo.median:.2f})",
                f"{flo.rows / flo.min:,.0f}" if flo.rows else "",
                _mib(flo.peak_mib),
                f"{ratio:.2f}x ({fig.median / flo.median:.2f}x)",
                p.goal,
            )
        console.print(table)
    if slopes:
        table = Table(
            title=f"{title}: start-up and marginal cost per partition "
            f"(process wall time, min of {repeat} after {warmup} warm-up; median in brackets)"
        )
        for col in (
            "tool",
            "runs",
            "start-up s",
            "per partition s",
            "no-op start-up s",
            "no-op per partition s",
            "marginal ratio",
            "peak MiB",
            "goal",
        ):
            table.add_column(col, justify="left" if col in ("tool", "goal", "runs") else "right")
        for s in slopes:
            sizes = sorted(s.figure)
            measured = measure(
                [*(s.figure[n] for n in sizes), *(s.floor[n] for n in sizes)],
                repeat=repeat,
                warmup=warmup,
                console=console,
            )
            for m in measured:
                console.print(f"{m.case.label}: {m.wall_min:.2f} s (peak {m.peak_mib:,.0f} MiB)")
            fig = dict(zip(sizes, measured[: len(sizes)], strict=True))
            flo = dict(zip(sizes, measured[len(sizes) :], strict=True))
            (fs, fm), (fs_med, fm_med) = _fit(fig, "wall_min"), _fit(fig, "wall_median")
            (ns, nm), (ns_med, nm_med) = _fit(flo, "wall_min"), _fit(flo, "wall_median")
            figures[s.name] = {
                "startup": fs,
                "marginal": fm,
                "noop_startup": ns,
                "noop_marginal": nm,
                "marginal_ratio": fm / nm if nm > 0 else float("nan"),
                "peak_mib": max(x.peak_mib for x in fig.values()),
            }
            table.add_row(
                s.name,
                " and ".join(str(n) for n in sizes),
                f"{fs:.2f} ({fs_med:.2f})",
                f"{fm:.3f} ({fm_med:.3f})",
                f"{ns:.2f} ({ns_med:.2f})",
                f"{nm:.3f} ({nm_med:.3f})",
                f"{fm / nm:.2f}x" if nm > 0 else "n/a",
                _mib(figures[s.name]["peak_mib"]),
                s.goal,
            )
        console.print(table)
    after = os.getloadavg()
    console.print(
        f"machine: {os.cpu_count()} cores; load average {load[0]:.1f} before, "
        f"{after[0]:.1f} after (1-minute). {note}".rstrip()
    )
    return figures


def python_case(label: str, script: str | Path, *args: str, **kw: object) -> Case:
    """A case that runs `script` with this interpreter (the project's venv)."""
    return Case(label, [sys.executable, str(script), *args], **kw)  # type: ignore[arg-type]
