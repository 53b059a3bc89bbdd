"""Issue 15's targets, checked against one benchmark run: each one met, missed, or not applicable at that size."""

from __future__ import annotations

from dataclasses import dataclass

from bench.commands import READ_ONLY_COMMANDS
from bench.journal_cost import paired_overhead
from bench.portfolio import Operation, PortfolioResult

LARGE = 100_000
"""The size the strict targets are set at (initial ≤ 2× the floor, 1 % delta ≤ 5 % of the initial sync)."""
INITIAL_RATIO = {True: 2.0, False: 3.0}
"""Initial sync against the floor: at most 2× at 100,000 units and above, 3× below (set at 10,000)."""
UNCHANGED_DELTA_SECONDS = 3.0
CHANGED_DELTA_SHARE = 0.05
PEAK_RSS_MB = 500.0
FLAT_RSS_GROWTH = 1.25
"""'Flat in portfolio size': the largest size's peak RSS at most this multiple of the smallest's, per database."""
JOURNAL_OVERHEAD = 0.10
"""The change journal (issue 25): the 1 % delta at most 10 % slower with it than without, set at 100,000 units."""
BUILDIUM_INITIAL_RATIO = 3.0
"""Issue 26: a Buildium initial sync at most 3× its floor (set at 10,000 units; judged at every size)."""
READ_ONLY_SECONDS = 1.0
BEYOND_OWN_WORK_SECONDS = 5.0
READ_ONLY_LABELS = {" ".join(args) for args in READ_ONLY_COMMANDS}


@dataclass
class Check:
    """One target at one size on one database: what was measured against what limit, and whether it was met
    (None: the target is set at another size; shown, not judged)."""

    target: str
    where: str
    measured: str
    limit: str
    met: bool | None


def operation(result: PortfolioResult, prefix: str) -> Operation | None:
    return next((op for op in result.operations if op.name.startswith(prefix)), None)


def portfolio_checks(result: PortfolioResult) -> list[Check]:
    where = f"{result.units:,} units, {result.database}"
    large = result.units >= LARGE
    checks = []
    initial, unchanged = operation(result, "initial sync"), operation(result, "delta, nothing")
    changed = next((op for op in result.operations if op.name.startswith("delta") and "nothing" not in op.name), None)
    if initial and initial.floor_ratio is not None:
        limit = INITIAL_RATIO[large]
        checks.append(Check("initial sync against the floor", where, f"{initial.floor_ratio:.2f}×", f"≤ {limit:g}×"
                            + ("" if large else f" (≤ {INITIAL_RATIO[True]:g}× at {LARGE:,})"),
                            initial.floor_ratio <= limit))
    if unchanged:
        checks.append(Check("delta, nothing changed, Prefect server running (whole process)", where,
                            f"{unchanged.seconds:.1f} s", f"≤ {UNCHANGED_DELTA_SECONDS:g} s",
                            unchanged.seconds <= UNCHANGED_DELTA_SECONDS))
    if initial and changed:
        share = changed.seconds / initial.seconds
        checks.append(Check(f"{changed.name.removeprefix('delta, ')} delta against the initial sync", where,
                            f"{share:.1%}", f"≤ {CHANGED_DELTA_SHARE:.0%}" + ("" if large else f" (set at {LARGE:,})"),
                            share <= CHANGED_DELTA_SHARE if large else None))
    if result.journal:
        overhead = paired_overhead(result.journal)
        checks.append(Check("the change journal's cost on the 1 % delta (A/B in process, paired median)", where,
                            f"{overhead:+.1%}", f"≤ {JOURNAL_OVERHEAD:+.0%}" + ("" if large else f" (set at {LARGE:,})"),
                            overhead <= JOURNAL_OVERHEAD if large else None))
    peaks = [(op.peak_rss_mb, op.name) for op in result.operations if op.peak_rss_mb]
    peaks += [(command.peak_rss_mb, command.command) for command in result.commands]
    if peaks:
        peak, name = max(peaks)
        checks.append(Check("peak RSS of any command", where, f"{peak:,.0f} MB ({name})", f"< {PEAK_RSS_MB:,.0f} MB",
                            peak < PEAK_RSS_MB))
    for command in result.commands:
        if command.label in READ_ONLY_LABELS:
            checks.append(Check(f"read-only `{command.command}`", where, f"{command.seconds:.2f} s",
                                f"< {READ_ONLY_SECONDS:g} s", command.seconds < READ_ONLY_SECONDS))
        elif not command.prefect_server:
            own = "no run row" if command.own_seconds is None else f"own work {command.own_seconds:.1f} s"
            checks.append(Check(f"`pmsync {command.label}`, no Prefect server: beyond its own work", where,
                                f"{command.beyond_own_work:.1f} s (wall {command.seconds:.1f} s, {own})",
                                f"≤ {BEYOND_OWN_WORK_SECONDS:g} s", command.beyond_own_work <= BEYOND_OWN_WORK_SECONDS))
    return checks


def flatness_checks(results: list[PortfolioResult]) -> list[Check]:
    """Per database measured at two sizes or more: the largest size's peak RSS against the smallest's."""
    checks = []
    for database in sorted({result.database for result in results}):
        sizes = sorted((r for r in results if r.database == database), key=lambda r: r.units)
        if len(sizes) < 2:
            continue
        peak = {r.units: max([op.peak_rss_mb for op in r.operations] + [c.peak_rss_mb for c in r.commands])
                for r in (sizes[0], sizes[-1])}
        smallest, largest = sizes[0].units, sizes[-1].units
        growth = peak[largest] / peak[smallest] if peak[smallest] else float("inf")
        checks.append(Check("peak RSS flat in portfolio size", f"{smallest:,} → {largest:,} units, {database}",
                            f"{peak[smallest]:,.0f} → {peak[largest]:,.0f} MB ({growth:.2f}×)",
                            f"≤ {FLAT_RSS_GROWTH:g}×", growth <= FLAT_RSS_GROWTH))
    return checks


def buildium_checks(result: PortfolioResult) -> list[Check]:
    """Issue 26's targets for one Buildium portfolio: the initial sync at most 3× its floor (the same listings paged
    bare at the same request rate, plus one bulk insert), a delta with nothing changed at most 3 s."""
    where = f"Buildium {result.units:,} units, {result.database}"
    checks = []
    initial, unchanged = operation(result, "initial sync"), operation(result, "delta, nothing")
    if initial and initial.floor_ratio is not None:
        checks.append(Check("initial sync against the floor", where, f"{initial.floor_ratio:.2f}×",
                            f"≤ {BUILDIUM_INITIAL_RATIO:g}×", initial.floor_ratio <= BUILDIUM_INITIAL_RATIO))
    if unchanged:
        checks.append(Check("delta, nothing changed, Prefect server running (whole process)", where,
                            f"{unchanged.seconds:.1f} s", f"≤ {UNCHANGED_DELTA_SECONDS:g} s",
                            unchanged.seconds <= UNCHANGED_DELTA_SECONDS))
    return checks


def check_targets(results: list[PortfolioResult]) -> list[Check]:
    """Issue 15's checks, on Propertyware portfolios (a Buildium one is judged by buildium_checks)."""
    propertyware = [result for result in results if result.source != "buildium"]
    return [check for result in propertyware for check in portfolio_checks(result)] + flatness_checks(propertyware)


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not judged at this size"}[met]


def targets_section(results: list[PortfolioResult]) -> list[str]:
    """The markdown section: a one-line tally, then every check."""
    return ["## Targets (issue 15)", "", *checks_table(check_targets(results))]


def buildium_targets(results: list[PortfolioResult]) -> list[str]:
    """Issue 26's targets for the Buildium portfolios: a one-line tally, then every check."""
    checks = [check for result in results if result.source == "buildium" for check in buildium_checks(result)]
    return ["### Targets (issue 26)", "", *checks_table(checks, "--source buildium ")]


def checks_table(checks: list[Check], profile_options: str = "") -> list[str]:
    judged = [check for check in checks if check.met is not None]
    missed = [check for check in judged if not check.met]
    lines = [
        f"{len(judged) - len(missed)} of {len(judged)} checks met, {len(missed)} missed"
        + (" (marked **missed** below)." if missed else "."),
        "",
        "| target | where | measured | limit | verdict |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {c.target} | {c.where} | {c.measured} | {c.limit} | {verdict(c.met)} |" for c in checks]
    if missed:
        lines += ["", "What remains for a missed target, and why, is read from a profile: `python -m bench.profile "
                  f"{profile_options}--units N [--database D] [--operation initial|delta]`; the README's Benchmark section keeps the "
                  "latest one's summary."]
    return lines
