"""The benchmark's report: the machine, the command, the targets, a table of every operation and of the CLI
commands, and a chart against size."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from bench.journal_cost import TABLE_HEADER, table_row
from bench.portfolio import PortfolioResult
from bench.targets import buildium_targets, targets_section

BUILDIUM_BEGIN, BUILDIUM_END = "<!-- buildium bench: begin -->", "<!-- buildium bench: end -->"
"""The Buildium section's bounds in REPORT.md: `pmsync bench --source buildium` rewrites only what is between them."""


def machine_description() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    return (f"{platform.node()}: {os.cpu_count()} cores ({model}), {memory_kb / 2**20:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def records_per_second(records: int, seconds: float) -> str:
    return f"{records / seconds:,.0f}" if records and seconds else "—"


def results_table(results: list[PortfolioResult]) -> list[str]:
    lines = [
        "| units | database | operation | wall s | × floor | HTTP requests | records | records/s | peak RSS MB | note |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        for op in result.operations:
            lines.append(
                f"| {result.units:,} | {result.database} | {op.name} | {op.seconds:,.1f} | "
                f"{op.floor_ratio:.2f} | {op.requests:,} | {op.records:,} | {records_per_second(op.records, op.seconds)} | "
                f"{f'{op.peak_rss_mb:,.0f}' if op.peak_rss_mb else '—'} | {op.note} |"
            )
    return lines


def commands_table(results: list[PortfolioResult]) -> list[str]:
    """Every CLI command measured: wall, the work its sync_runs row recorded, and the rest."""
    lines = [
        "| units | database | command | Prefect server | wall s | own work s | beyond own work s | peak RSS MB | note |",
        "|---:|---|---|---|---:|---:|---:|---:|---|",
    ]
    for result in results:
        for command in result.commands:
            own = "—" if command.own_seconds is None else f"{command.own_seconds:,.2f}"
            lines.append(
                f"| {result.units:,} | {result.database} | `{command.command}` | "
                f"{'running' if command.prefect_server else 'none configured'} | {command.seconds:,.2f} | {own} | "
                f"{command.beyond_own_work:,.2f} | {command.peak_rss_mb:,.0f} | {command.note} |"
            )
    return lines


def delta_shares(results: list[PortfolioResult]) -> list[str]:
    """The delta after changes as a share of the initial sync, per run (the target is at most 5 %)."""
    lines = []
    for result in results:
        initial = next((op for op in result.operations if op.name == "initial sync"), None)
        changed = next((op for op in result.operations if op.name.startswith("delta") and "nothing" not in op.name), None)
        if initial and changed:
            lines.append(f"- {result.units:,} units on {result.database}: the delta after changes costs "
                         f"{changed.seconds / initial.seconds:.1%} of the initial sync.")
    return lines


def journal_section(results: list[PortfolioResult]) -> list[str]:
    """The change journal's A/B per portfolio: 1 % deltas in this process, journaled and not, alternating."""
    measured = [result for result in results if result.journal]
    if not measured:
        return []
    return [
        "## The change journal's cost",
        "",
        "After the CLI commands, each portfolio runs the delta job in the bench's own process: a warm-up delta, then "
        "rounds of two 1 % deltas (buildings, units, leases and work orders touched before each), one journaling and "
        "one not (the journal's write replaced by a no-op), in alternating order. \"Paired median\" is the median of "
        "each round's journaled ÷ unjournaled wall time; \"inside the journal's writes\" is the time spent in "
        "`pmsync.journal.record.record` (its merge SELECT and upsert) per journaled delta.",
        "",
        *TABLE_HEADER,
        *(table_row(result.units, result.database, result.journal) for result in measured),
    ]


def write_chart(results: list[PortfolioResult], path: Path) -> None:
    """Wall time against portfolio size (log-log): one panel per database, one line per operation."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    databases = sorted({result.database for result in results})
    figure, panels = pyplot.subplots(1, len(databases), figsize=(6 * len(databases), 5), squeeze=False, sharey=True)
    for panel, database in zip(panels[0], databases):
        series: dict[str, list[tuple[int, float]]] = {}
        for result in (r for r in results if r.database == database):
            for op in result.operations:
                series.setdefault(op.name, []).append((result.units, op.seconds))
        for operation, points in series.items():
            points.sort()
            panel.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=operation)
        panel.set_xscale("log")
        panel.set_yscale("log")
        panel.set_xlabel("portfolio size (units)")
        panel.set_title(database)
        panel.grid(True, which="both", alpha=0.3)
        panel.legend(fontsize=8, loc="upper left")
    panels[0][0].set_ylabel("wall time (s)")
    figure.suptitle("pmsync against the floor, by portfolio size")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def buildium_section(results: list[PortfolioResult], command: str, load: tuple[float, float]) -> list[str]:
    """Issue 26's Buildium portfolios: how they were run (the request rate), their targets and operations."""
    buildium = [result for result in results if result.source == "buildium"]
    if not buildium:
        return []
    rates = sorted({result.rate or 0 for result in buildium})
    rate_words = ", ".join(f"{rate} requests/s" if rate else "no limit" for rate in rates)
    return [
        BUILDIUM_BEGIN,
        "## Buildium (issue 26)",
        "",
        f"- Machine: {machine_description()}; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end.",
        f"- Command: `{command}`",
        f"- Request rate: {rate_words}. At a rate, the sandbox (`pmsync sandbox serve --source buildium --rate-limit "
        "R`) refuses a client's requests past R a second with a 429 (no Retry-After), pmsync runs at its default budget "
        "of R a second (`PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND`), and the floor starts its requests at most R a "
        "second: the floor and the sync read under the same limit, as an account does. With no limit (`--buildium-rate "
        "0`) the sandbox enforces none, the floor is not paced and pmsync's budget is set out of reach.",
        "- Floor: a bare `requests.Session` reading the listings the initial sync reads, in its form (Buildium's rule "
        "table's listings with the sync's `lastupdatedto` and `orderby=Id`, pages of 1,000, and the staff user's tasks, "
        "which the sync lists before work orders), then one `executemany` per listing (PostgreSQL: `COPY`) of (id, "
        "JSON) rows, all in one transaction. Its records include the tasks; the syncs' do not (they count one entity "
        "per listing).",
        "- The syncs: `pmsync sync initial`, then `pmsync sync delta` with nothing changed, then after 1 % of rentals, "
        "rental units, leases, work orders, association units and association owners were touched in the sandbox; "
        "each in a child process against a Prefect server. \"answered 429\" counts the sandbox's refusals during it.",
        "",
        *buildium_targets(buildium),
        "",
        "### Operations",
        "",
        *results_table(buildium),
        BUILDIUM_END,
    ]


def splice_buildium_section(path: Path, section: list[str]) -> str:
    """REPORT.md with its Buildium section replaced by `section` (appended when it has none); the rest unchanged."""
    markdown = path.read_text() if path.exists() else "# pmsync benchmark\n"
    block = "\n".join(section)
    if BUILDIUM_BEGIN in markdown and BUILDIUM_END in markdown:
        before, rest = markdown.split(BUILDIUM_BEGIN, 1)
        markdown = before + block + rest.split(BUILDIUM_END, 1)[1]
    else:
        markdown = markdown.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(markdown)
    return markdown


def write_report(results: list[PortfolioResult], command: str, path: Path, chart: Path, load: tuple[float, float]) -> str:
    """Writes the markdown report (and the chart beside it); returns the markdown. Buildium portfolios have a
    section of their own, at the end."""
    buildium = buildium_section(results, command, load)
    results = [result for result in results if result.source != "buildium"]
    if not results:
        return splice_buildium_section(path, buildium)
    write_chart(results, chart)
    lines = [
        "# pmsync benchmark",
        "",
        f"- Machine: {machine_description()}; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end "
        "(the machine may be shared: compare the ratios, they share the load with their floor).",
        f"- Command: `{command}`",
        "- Floor: a bare `requests.Session` fetching every page of every listing (500 per page, id-ordered), then one "
        "`executemany` per table (PostgreSQL: `COPY`) of (id, modified, JSON) rows, all in one transaction.",
        "- Syncs run the way users run them: `pmsync sync initial|delta` and `pmsync reconcile` in a child process "
        "against a Prefect server; wall time includes starting that process. Peak RSS is of its whole process tree.",
        "- HTTP requests are the source requests each run recorded in `sync_runs`; records are what it fetched.",
        "- CLI commands: after the 1 % delta, `pmsync sync delta`, `balance`, `import owners` and `workorder sync-now` "
        "run with no Prefect server configured (no `PREFECT_API_URL`, a Prefect home of their own); after the "
        "reconciliation, the read-only commands run beside the Prefect server. Own work is the `finished_at − "
        "started_at` of the `sync_runs` row the command wrote.",
        "",
        *targets_section(results),
        "",
        "## Operations",
        "",
        *results_table(results),
        "",
        *delta_shares(results),
        "",
        "## CLI commands",
        "",
        *commands_table(results),
        "",
        f"![time against portfolio size]({chart.name})",
        "",
        *journal_section(results),
        "",
        *buildium,
        "",
    ]
    markdown = "\n".join(lines)
    path.write_text(markdown)
    return markdown
