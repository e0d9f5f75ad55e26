"""Markdown tables of a ``cost_model.py`` report."""

from __future__ import annotations

from typing import Any

GROUPS = ("web", "worker", "beat", "postgres", "redis")
UNITS = {"w1": "run", "w2": "request", "w3": "request", "w4": "run"}


def _number(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def cost_table(entries: list[dict[str, Any]]) -> list[str]:
    head = "| workload | unit (count) | " + " | ".join(GROUPS) + " | server total | load generator |"
    lines = [
        "CPU milliseconds per unit, per process group:",
        "",
        head,
        "|" + "---|" * (head.count("|") - 1),
    ]
    for e in entries:
        cpu = e["cpu_ms_per_unit"]
        server = sum(cpu.get(g, 0.0) for g in GROUPS)
        cells = [_number(cpu.get(g)) for g in GROUPS]
        unit = f"{UNITS[e['workload']]} ({e['units']})"
        cells += [f"{server:.2f}", _number(cpu.get("load"))]
        lines.append(f"| {e['workload'].upper()} | {unit} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Database work per unit:",
        "",
        "| workload | statements | reads | writes | write commits | PostgreSQL xact_commit "
        "| new connections | rows inserted | rows updated | Celery messages | throughput |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        total, pg, n = e["counters"]["sql_total"], e["counters"]["pg"], e["units"]
        cells = [
            e["statements_per_unit"],
            round(total["reads"] / n, 2),
            round(total["writes"] / n, 2),
            e["write_commits_per_unit"],
            e["pg_xact_commit_per_unit"],
            round(pg["sessions"] / n, 2),
            round(pg["tup_inserted"] / n, 2),
            round(pg["tup_updated"] / n, 2),
            e["messages_per_unit"],
            e["throughput"],
        ]
        lines.append(f"| {e['workload'].upper()} | " + " | ".join(_number(c) for c in cells) + " |")
    return lines


def scale_table(entries: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| worker processes | runs/s to completion | worker CPU ms/run | steps | completed "
        "| completed with attempt ≠ 1 | started twice | steps per worker process |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        c = e["claims"]
        spread = ", ".join(f"{k} {v}" for k, v in sorted(c["steps_by_worker_process"].items()))
        cells = [
            e["worker_processes"],
            e["throughput"],
            e["cpu_ms_per_unit"].get("worker"),
            c["steps"],
            c["completed"],
            c["completed_attempt_not_1"],
            c["started_twice"],
            spread,
        ]
        lines.append("| " + " | ".join(_number(x) for x in cells) + " |")
    return lines


def memory_line(sample: dict[str, Any]) -> str:
    groups = sample["groups"]
    return ", ".join(f"{g} {groups[g]['rss_mib']:.0f}/{groups[g]['pss_mib']:.0f} MiB" for g in GROUPS if g in groups)


def memory_table(samples: list[dict[str, Any]]) -> list[str]:
    lines = [
        "RSS / PSS in MiB, summed per group (PSS shares each page among the processes mapping it); "
        "largest single process RSS in brackets:",
        "",
        "| after W1 run | " + " | ".join(GROUPS) + " |",
        "|" + "---|" * (len(GROUPS) + 1),
    ]
    for s in samples:
        cells = []
        for g in GROUPS:
            entry = s["groups"].get(g)
            if entry is None:
                cells.append("-")
                continue
            largest = max(entry["processes"].values())
            cells.append(f"{entry['rss_mib']:.0f} / {entry['pss_mib']:.0f} ({largest:.0f})")
        lines.append(f"| {s['after_run']} | " + " | ".join(cells) + " |")
    if len(samples) >= 3:
        second, third = samples[1]["groups"], samples[2]["groups"]
        growth = {g: third[g]["pss_mib"] - second[g]["pss_mib"] for g in GROUPS if g in second and g in third}
        lines += ["", "PSS growth from run 2 to run 3: " + ", ".join(f"{g} {v:+.1f} MiB" for g, v in growth.items())]
    return lines


def render(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        f"# kneo cost model ({report['started_at']}{', ' + report['label'] if report['label'] else ''})",
        "",
        f"Celery prefork children per worker process: {settings['worker_concurrency']}; "
        f"gunicorn workers: {settings['web_workers']}; wall time {report['wall_seconds']} s.",
        "",
    ]
    if report["cost"]:
        lines += ["## Cost per unit", "", *cost_table(report["cost"]), ""]
    if report["scale_out"]:
        lines += ["## Scale-out (W1)", "", *scale_table(report["scale_out"]), ""]
    if report["memory"]:
        lines += ["## Memory", "", *memory_table(report["memory"]), ""]
    return "\n".join(lines)
