"""Status: what an operator checks first, over any backend. It is also what
``opscenter summary`` prints after deploying and generating, so there is one summary."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from opscenter.backends.base import Backend
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import BaselineStatus, InstanceFilter
from opscenter.domain.rules import committed_moment, minutes_text
from opscenter.domain.times import TimeView, to_local
from opscenter.options import Options
from opscenter.verbs.output import BASELINE_GLYPH, yesterday

# the worst cycle speaks for a baseline; a status we do not know speaks loudest
_BASELINE_SEVERITY = ("SAFE", "WARNING", "ERROR", "OVER")


def status(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    print(report(backend, args.bizdate, utc=options.utc, as_json=args.json))
    return 0


def report(backend: Backend, bizdate: date | None, *, utc: bool, as_json: bool) -> str:
    """Counts by status of a business date (default: yesterday's), the nodes, the baselines
    and what is due next: the summary over any backend (the local store or a DataWorks
    workspace), as text or JSON."""
    info = backend.workspace()
    zone = ZoneInfo(info.timezone)
    bizdate = bizdate or yesterday(backend)
    view = TimeView.of(zone, utc)
    now = view.moment_instant(backend.now())
    tally = backend.status_counts(bizdate)
    deployed = backend.list_nodes()
    types: dict[str, int] = {}
    for n in sorted(deployed, key=lambda n: n.type):
        types[n.type] = types.get(n.type, 0) + 1
    frozen = sum(n.frozen for n in deployed)  # frozen or paused: the backends' NodeInfo rule
    waiting = tuple(s for s in Status if not s.finished and s is not Status.FROZEN)
    due = backend.list_instances(
        InstanceFilter(bizdate=bizdate, statuses=waiting, kind=InstanceKind.PERIODIC, limit=5)
    ).items[:5]
    if info.backend == "dataworks":
        scheduler = "DataWorks (its own scheduler; none of ours runs)"
    else:
        scheduler = info.scheduler or "not running (start it with 'opscenter scheduler')"
    clock = "real time" if info.speed == 1 else f"simulated ×{info.speed:g}"
    if info.stopped_at is not None:  # a simulated world stands where its scheduler left it
        clock += f"; scheduler stopped at {view.moment(info.stopped_at)}"
    listed = backend.list_baselines(bizdate)
    shown = ZoneInfo("UTC") if view.zone is UTC else zone
    found = _baseline_summary(listed, shown)
    predicted = {b["name"] for b in found}
    # a baseline no scheduler has predicted for this date yet is still a promise; its
    # committed times are read in the same zone as the predicted ones'
    promised = [
        (b, [committed_moment(bizdate, hhmm, zone) for hhmm in b.committed])
        for b in backend.list_baseline_definitions()
        if b.enabled and b.name not in predicted
    ]
    unpredicted = [
        {
            "name": b.name,
            "priority": b.priority,
            "committed": _committed_times(moments, shown),
            "margin": b.margin,
            "nodes": list(b.nodes),
            "status": None,
        }
        for b, moments in promised
    ]
    data = {
        "workspace": info.name,
        "backend": info.backend,
        "scheduler": scheduler,
        "timezone": info.timezone,
        "now": now.isoformat(),
        "speed": info.speed,
        "stopped_at": view.moment_instant(info.stopped_at).isoformat() if info.stopped_at else None,
        "bizdate": bizdate.isoformat(),
        "counts": {s.value: n for s, n in tally.counts.items()} | {"TOTAL": tally.total},
        "dry_run": tally.dry_run,
        "nodes_by_type": types,
        "frozen_nodes": frozen,
        "baselines": found + unpredicted,
        "upcoming": [
            {
                "node": i.node,
                "cyctime": view.wall_instant(i.cyctime).isoformat(),
                "status": i.status.value,
            }
            for i in due
        ],
    }

    def text() -> str:
        lines = [
            f"{info.name} · {info.backend} · now {view.moment(now)} ({info.timezone})",
            f"Scheduler: {scheduler}",
            f"Clock: {clock}",
            "",
            f"Instances · bizdate {bizdate} · {tally.total} total ({tally.dry_run} dry-run)",
        ]
        width = max(tally.counts.values(), default=0)
        for state, count in tally.counts.items():
            bar = "█" * round(20 * count / width) if width else ""
            lines.append(f"  {state.label:<16}{count:>6}  {bar}")
        kinds = ", ".join(f"{n} {t}" for t, n in types.items())
        lines += ["", f"Nodes · {len(deployed)} deployed ({kinds}) · {frozen} frozen"]
        if found:
            committed = view.moments_label(b.committed_at for b in listed)
            lines += ["", f"Baselines · committed times in {committed}"]
        for b in found:
            lines += _baseline_lines(b, f"{BASELINE_GLYPH.get(b['status'], '?')} {b['status']}")
        if unpredicted:
            lines += [
                "",
                f"Baselines not predicted yet for bizdate {bizdate} · committed times in "
                + view.moments_label(moment for _, moments in promised for moment in moments),
            ]
        for b in unpredicted:
            lines += _baseline_lines(b, "· not predicted")
        if due:
            lines += ["", f"Due next · cyctimes in {view.walls_label(i.cyctime for i in due)}"]
        for item in due:
            note = " (dry-run)" if item.dry_run else ""
            cyctime = view.wall_instant(item.cyctime)
            lines.append(f"  {cyctime:%m-%d %H:%M}  {item.status_label:<16}{item.node}{note}")
        return "\n".join(lines)

    return json.dumps(data, indent=2) if as_json else text()


def _baseline_lines(b: dict[str, Any], verdict: str) -> list[str]:
    lines = [
        f"  {b['name']:<18} priority {b['priority']}  committed {b['committed']}  "
        f"margin {minutes_text(b['margin'])}  {verdict}"
    ]
    if b["nodes"]:
        lines.append(f"  {'':<18} protects {', '.join(b['nodes'])}")
    return lines


def _committed_times(moments: Iterable[datetime], zone: ZoneInfo) -> str:
    """Committed times (naive UTC) as the summary shows them: ``hh:mm`` in ``zone``."""
    return ", ".join(f"{to_local(moment, zone):%H:%M}" for moment in moments)


def _baseline_summary(found: list[BaselineStatus], zone: ZoneInfo) -> list[dict[str, Any]]:
    """One entry per baseline (an hourly one has a cycle per committed time), in the
    backend's order: committed times in the workspace zone, the margin before the
    committed time that alerts, and the worst status of its cycles."""
    named: dict[str, list[BaselineStatus]] = {}
    for b in found:
        named.setdefault(b.name, []).append(b)
    summary = []
    for name, cycles in named.items():
        first = cycles[0]
        worst = max(
            (c.status for c in cycles),
            key=lambda s: (
                _BASELINE_SEVERITY.index(s) if s in _BASELINE_SEVERITY else len(_BASELINE_SEVERITY)
            ),
        )
        summary.append(
            {
                "name": name,
                "priority": first.priority,
                "committed": _committed_times((c.committed_at for c in cycles), zone),
                "margin": int((first.committed_at - first.alert_at).total_seconds() // 60),
                "nodes": list(first.nodes),
                "status": worst,
            }
        )
    return summary
