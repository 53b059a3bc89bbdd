"""The fleet bench's report: the table per worker count and phase, what limits throughput, and a chart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from bench.report import machine_description

if TYPE_CHECKING:
    from bench.fleet import FleetResult, Phase

GROUPS = ("sandboxes", "workers", "prefect server", "postgres", "bench (this process)")
"""Process groups whose CPU is measured; the source is the sandboxes, the database is postgres."""
LIMITED_AT = 0.85
"""A phase is CPU-bound when its processes used at least this share of every core for the whole phase."""


def cpu_share(phase: Phase, group: str) -> float:
    """A group's CPU seconds over all cores × the phase's wall; `other` is the machine's busy time not in any group
    (PostgreSQL's share, the whole server, may hold other users' work too)."""
    if group == "other":
        seconds = phase.cpu_seconds.get("machine", 0.0) - sum(phase.cpu_seconds.get(g, 0.0) for g in GROUPS)
        return max(seconds, 0.0) / ((os.cpu_count() or 1) * phase.seconds)
    return phase.cpu_seconds.get(group, 0.0) / ((os.cpu_count() or 1) * phase.seconds)


def run_seconds(phase: Phase) -> list[float]:
    return sorted(run.seconds for run in phase.runs if run.seconds)


def median_run_seconds(phase: Phase) -> float:
    seconds = run_seconds(phase)
    return seconds[len(seconds) // 2] if seconds else 0.0


def slots_in_flow(phase: Phase, runs_per_worker: int) -> float:
    """Share of the run slots (workers × runs each) × wall spent inside a flow (Prefect's total_run_time); the rest
    is waiting for a poll and starting each flow-run process."""
    return sum(run_seconds(phase)) / (phase.workers * runs_per_worker * phase.seconds)


def results_table(result: FleetResult) -> list[str]:
    lines = [
        "| workers | syncs at once | phase | wall s | syncs/min | units/s | completed | median run s | slots in a flow "
        "| peak RSS per worker tree MB "
        "| platform DB peak connections | CPU: source | workers | Prefect server | PostgreSQL | other | machine busy |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in result.phases:
        completed = f"{len(phase.runs) - len(phase.failed)}/{len(phase.runs)}"
        shares = " | ".join(f"{cpu_share(phase, group):.0%}" for group in ("sandboxes", "workers", "prefect server",
                                                                         "postgres", "other", "machine"))
        lines.append(
            f"| {phase.workers} | {phase.workers * result.runs_per_worker} | {phase.name} | {phase.seconds:,.1f} | "
            f"{phase.syncs_per_minute:,.1f} | {phase.units_per_second:,.0f} | {completed} | "
            f"{median_run_seconds(phase):,.1f} | {slots_in_flow(phase, result.runs_per_worker):.0%} | "
            f"{', '.join(f'{mb:,.0f}' for mb in phase.peak_rss_mb)} | {phase.peak_connections} | {shares} |")
    return lines


def per_sync_table(result: FleetResult) -> list[str]:
    """CPU seconds each sync cost per process group (independent of what else the machine ran), and the throughput
    the machine's cores would allow if the bench had them to itself and nothing but CPU limited it."""
    cores = os.cpu_count() or 1
    lines = [
        "| workers | phase | source (sandboxes) | workers' trees | Prefect server | PostgreSQL | bench | total | "
        f"ceiling on {cores} unshared cores, syncs/min | measured syncs/min |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in result.phases:
        each = {group: phase.cpu_seconds.get(group, 0.0) / max(syncs_of(phase), 1) for group in GROUPS}
        total = sum(each.values())
        lines.append(f"| {phase.workers} | {phase.name} | " + " | ".join(f"{each[g]:.1f}" for g in GROUPS)
                     + f" | {total:.1f} | {cores * 60 / total:,.1f} | {phase.syncs_per_minute:,.1f} |")
    return lines


def syncs_of(phase: Phase) -> int:
    """Integrations synced in the phase: its flow runs, unless a batch flow run synced several."""
    return phase.syncs or len(phase.runs)


def delta_cost_table(result: FleetResult) -> list[str]:
    """CPU seconds per no-change delta (issue 27), by where they went: the flow-run processes (the workers' trees less
    the workers themselves), the workers' own polling, the Prefect server, PostgreSQL (the whole server: the
    platform's queries and the Prefect server's), the source; and what each sync sent the Prefect server."""
    lines = [
        "| workers | round | flow runs | flow-run processes | worker processes | Prefect server | PostgreSQL | "
        "source | total | of which the server idle | task runs | log lines | artifacts | events | syncs/min |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in result.phases:
        if not phase.name.startswith("delta"):
            continue
        syncs, cpu, traffic = syncs_of(phase), phase.cpu_seconds, phase.traffic
        worker_own = cpu.get("worker processes", 0.0)
        parts = [cpu.get("workers", 0.0) - worker_own, worker_own, cpu.get("prefect server", 0.0),
                 cpu.get("postgres", 0.0), cpu.get("sandboxes", 0.0)]
        events = sum(count for kind, count in traffic.items() if kind.startswith("events"))
        sent = [traffic.get("task runs", 0), traffic.get("logs", 0), traffic.get("artifacts", 0), events]
        lines.append(f"| {phase.workers} | {phase.name} | {len(phase.runs)} | "
                     + " | ".join(f"{part / syncs:.2f}" for part in parts) + f" | {sum(parts) / syncs:.2f} | "
                     + f"{phase.idle_cpu_per_second.get('prefect server', 0.0) * phase.seconds / syncs:.2f} | "
                     + " | ".join(f"{count / syncs:.1f}" for count in sent) + f" | {phase.syncs_per_minute:,.1f} |")
    return lines


def failures(result: FleetResult) -> list[str]:
    lines = []
    for phase in result.phases:
        for run in phase.failed:
            lines.append(f"- {phase.workers} worker(s), {phase.name}, {run.integration}: {run.state} "
                         f"({run.state_name}): {run.message[:300] or 'no message'}")
    return lines or ["- none: every run of every phase ended COMPLETED."]


def rows_check(result: FleetResult) -> list[str]:
    lines = []
    for workers, counts in result.platform_units.items():
        wrong = {name: (counts.get(name, 0), expected) for name, expected in result.expected_units.items()
                 if counts.get(name, 0) != expected}
        total = sum(counts.values())
        lines.append(f"- {workers} worker(s): {len(counts)} integrations on the platform, {total:,} units; "
                     + ("each holds exactly the active units of active buildings of its own sandbox "
                        + ("(a Buildium one: the units of its active rentals and active associations) " if result.buildium else "")
                        + f"({min(result.expected_units.values()):,}–{max(result.expected_units.values()):,} of "
                        f"{result.units:,} generated)." if not wrong else f"MISMATCHED (landed, expected): {wrong}"))
    return lines


LABELS = {"sandboxes": "the source (sandboxes)", "workers": "the workers (worker + flow-run processes)",
          "prefect server": "the Prefect server", "postgres": "the database (PostgreSQL)", "bench (this process)": "the bench"}


def limits_paragraph(result: FleetResult) -> list[str]:
    """What limits throughput, from the measured CPU shares and run slots (not from expectation)."""
    lines = []
    for phase in result.phases:
        machine, other = cpu_share(phase, "machine"), cpu_share(phase, "other")
        own = {group: phase.cpu_seconds.get(group, 0.0) for group in GROUPS}
        total = sum(own.values()) or 1.0
        ranked = ", ".join(f"{LABELS[g]} {seconds / total:.0%}" for g, seconds in sorted(own.items(), key=lambda i: -i[1]))
        bound = (f"the cores were busy {machine:.0%} of the wall time (CPU-bound)" if machine >= LIMITED_AT else
                 f"the cores were busy only {machine:.0%} of the wall time (not CPU-bound)")
        lines.append(f"- {phase.workers} worker(s), {phase.name}: {bound}, {other:.0%} of it other work on the shared "
                     f"machine; of the bench's own CPU: {ranked}. Run slots spent inside a flow: "
                     f"{slots_in_flow(phase, result.runs_per_worker):.0%}.")
    lines += scaling_lines(result)
    lines.append(f"- Therefore: {verdict(result)}")
    return lines


def verdict(result: FleetResult) -> str:
    """The limiting component: the group with the most CPU per sync over all phases, with the others' shares."""
    totals = {group: sum(p.cpu_seconds.get(group, 0.0) for p in result.phases) for group in GROUPS}
    everything = sum(totals.values()) or 1.0
    top = max(totals, key=totals.get)
    busy = min(cpu_share(p, "machine") for p in result.phases)
    shares = {group: seconds / everything for group, seconds in totals.items()}
    limit = ("the machine's cores: every phase kept them at least "
             f"{busy:.0%} busy, so throughput is bounded by CPU per sync, and " if busy >= LIMITED_AT else
             f"not the cores alone (a phase left them {1 - busy:.0%} idle: the syncs at once are too few), and ")
    return (f"{limit}the largest CPU cost per sync is {LABELS[top]} ({shares[top]:.0%} of the bench's CPU); the source "
            f"takes {shares['sandboxes']:.0%}, the database {shares['postgres']:.0%}, the Prefect server "
            f"{shares['prefect server']:.0%}. {worker_effect(result)}")


def worker_effect(result: FleetResult) -> str:
    """Whether more workers added capacity: CPU per sync did not fall, so on full cores throughput moves with the
    bench's share of them (other work on a shared machine), not with the worker count."""
    pairs = worker_pairs(result)
    if not pairs:
        return ""
    cheaper = [first.name for first, last in pairs if cpu_per_sync(last) < 0.9 * cpu_per_sync(first)]
    if cheaper:
        return f"More workers made each {' and '.join(cheaper)} sync cheaper in CPU: they add capacity here."
    return ("More workers did not make a sync cheaper in CPU (above), so on full cores they add runs at once, not "
            "capacity: throughput per worker count follows the bench's share of the cores ÷ its CPU per sync, which "
            "is the ceiling column of the per-sync table.")


def own_share(phase: Phase) -> float:
    """The bench's processes' share of all cores × wall (what other work on the machine left it)."""
    return sum(cpu_share(phase, group) for group in GROUPS)


def cpu_per_sync(phase: Phase) -> float:
    return sum(phase.cpu_seconds.get(group, 0.0) for group in GROUPS) / max(syncs_of(phase), 1)


def scaling_lines(result: FleetResult) -> list[str]:
    """How each phase's throughput changed from the fewest to the most workers, beside the two things it follows on
    full cores: the bench's share of them and its CPU per sync."""
    lines = []
    for first, last in worker_pairs(result):
        lines.append(
            f"- {first.name}: {first.workers} → {last.workers} worker(s): throughput {first.syncs_per_minute:,.1f} → "
            f"{last.syncs_per_minute:,.1f} syncs/min (× {last.syncs_per_minute / first.syncs_per_minute:.2f}); the "
            f"bench's share of the cores {own_share(first):.0%} → {own_share(last):.0%} "
            f"(× {own_share(last) / own_share(first):.2f}; other work {cpu_share(first, 'other'):.0%} → "
            f"{cpu_share(last, 'other'):.0%}); CPU per sync {cpu_per_sync(first):.1f} → {cpu_per_sync(last):.1f} s "
            f"(× {cpu_per_sync(last) / cpu_per_sync(first):.2f}).")
    return lines


def worker_pairs(result: FleetResult) -> list[tuple[Phase, Phase]]:
    pairs = []
    for name in ("initial", "delta"):
        phases = sorted((p for p in result.phases if p.name == name), key=lambda p: p.workers)
        if len(phases) >= 2:
            pairs.append((phases[0], phases[-1]))
    return pairs


def write_chart(result: FleetResult, path: Path) -> None:
    """Wall time of the initial syncs and the delta round, and sync throughput, per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (walls, rates) = pyplot.subplots(1, 2, figsize=(11, 4.5))
    counts = sorted({phase.workers for phase in result.phases})
    width = 0.38
    for offset, name in ((-width / 2, "initial"), (width / 2, "delta")):
        phases = {p.workers: p for p in result.phases if p.name == name}
        xs = [i + offset for i, c in enumerate(counts) if c in phases]
        walls.bar(xs, [phases[c].seconds for c in counts if c in phases], width, label=f"{name} ({result.integrations} runs)")
        rates.bar(xs, [phases[c].syncs_per_minute for c in counts if c in phases], width, label=name)
    for panel, label in ((walls, "wall time (s)"), (rates, "syncs per minute")):
        panel.set_xticks(range(len(counts)), [f"{c} worker{'s' if c > 1 else ''} × {result.runs_per_worker}" for c in counts])
        panel.set_ylabel(label)
        panel.grid(True, axis="y", alpha=0.3)
        panel.legend(fontsize=8)
    figure.suptitle(f"{result.integrations} integrations × {result.units:,} units, PostgreSQL, Prefect process workers")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def write_fleet_report(result: FleetResult, path: Path, chart: Path) -> str:
    write_chart(result, chart)
    lines = [
        "# pmsync fleet benchmark (issue 17): many integrations through a Prefect server",
        "",
        f"- Machine: {machine_description()}; load average {result.load[0]:.1f} at the start, {result.load[1]:.1f} "
        "at the end (the machine may be shared with other work).",
        f"- Command: `{result.command}`",
        f"- {result.integrations} integrations, each its own sandbox account (`pmsync sandbox serve --size "
        f"{result.units} --seed n`, its own process; all {result.integrations} started in {result.sandboxes_seconds:.1f} s) "
        "and its own Propertyware Integration block" + (
            f"; {result.buildium} of them Buildium accounts (`pmsync sandbox serve --source buildium`, enforcing "
            "Buildium's 10 requests a second) with a Buildium Integration block each (`fleet-buildium-n`), synced "
            "into the same platform database beside the Propertyware ones" if result.buildium else "") + ".",
        "- One Prefect server (`prefect server start`) on a fresh PostgreSQL database, scheduler off (no cron runs "
        "beside the measured ones); the platform on another fresh PostgreSQL database for each worker count, so "
        "each initial sync is a real one.",
        f"- `pmsync deploy` made {result.deployments} deployments (prefect.yaml's per-integration ones for each "
        f"block, its platform ones once) in **{result.deploy_seconds:.1f} s**.",
        f"- Per worker count W: W `prefect worker start --pool pmsync --limit {result.runs_per_worker}` process workers "
        f"(no pool concurrency limit), so at most W × {result.runs_per_worker} syncs run at once; each flow run is a "
        "subprocess of its worker. All initial-sync runs (`initial-sync/initial-<block>`) are created at once, "
        "timed from the first created to the last final; then one round of the hourly deltas "
        "(`delta-sync/delta-<block>`), the same way.",
        "- Sampled every 0.5 s: each worker's process-tree RSS (worker + its flow-run subprocesses), and "
        "`select count(*) from pg_stat_activity where datname = <platform db>`. CPU seconds per group from "
        "/proc/<pid>/stat (utime+stime+cutime+cstime of the live process trees at the phase's start and end); "
        "PostgreSQL is every process named postgres (the whole server, including the Prefect server's database); "
        "machine busy is /proc/stat. Shares are of all cores × the phase's wall time.",
        "",
        "## Results",
        "",
        *results_table(result),
        "",
        "syncs/min and units/s: the integrations (× units each) over the phase's wall time; for a delta round the units are "
        "checked, not re-fetched. Median run s: a flow run's time inside the flow (Prefect's `total_run_time`). Slots "
        "in a flow: the runs' summed time inside their flows over (workers × runs per worker × wall); the rest of the "
        "slots' time went to waiting for a worker's poll (every 2 s) and starting each flow run's process. CPU "
        "columns: share of all cores × wall.",
        "",
        "CPU seconds per sync, by process group (a group's CPU over the phase ÷ the runs; PostgreSQL counts the whole "
        "server, so it includes the Prefect server's queries and anything else it served meanwhile). The ceiling is what "
        "this CPU cost allows if nothing else ran on the machine and the syncs kept every core busy:",
        "",
        *per_sync_table(result),
        "",
        "### CPU per no-change delta (issue 27)",
        "",
        "Each delta round syncs every integration once with nothing changed at its source since its initial sync. "
        "CPU seconds per sync: the flow-run processes (each worker's process tree less the worker itself: process "
        "start, imports, the flow), the workers' own polling, the Prefect server, PostgreSQL (the whole server) and the "
        "source; then what each sync sent the Prefect server (task runs, log lines, artifacts and events recorded "
        "while the round ran, bench/fleet_traffic.py)" + (
            f". The `delta batch` round runs the same deltas as `delta-batch/hourly` flow runs of {result.batch_size} "
            f"integrations each ({result.batch_concurrency} at once in each), every integration a delta-sync subflow "
            "of it" if result.batch_size else "") + ". The server idle: its CPU per second in the 10 s before the "
        "round with no run going (its services), × the round's wall ÷ its syncs: a cost per hour, not per sync, that "
        "a faster round shares among fewer seconds:",
        "",
        *delta_cost_table(result),
        "",
        "Runs not completed:",
        "",
        *failures(result),
        "",
        "Platform rows afterwards (units per integration_id):",
        "",
        *rows_check(result),
        "",
        "## What limits throughput",
        "",
        *limits_paragraph(result),
        "",
        f"![wall time and throughput per worker count]({chart.name})",
        "",
    ]
    markdown = "\n".join(lines)
    path.write_text(markdown)
    return markdown
