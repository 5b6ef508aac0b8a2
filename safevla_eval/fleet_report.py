"""The fleet report: markdown + PNG (+ the counts as JSON) from the safety recordings of any
number of robots (``safevla fleet report LOG... --out DIR``).

``report.md`` has, per robot and for the fleet: veto and stop rates (per decision and per
hour of recording), vetoes and stops per hour of the day (UTC), events per cost category or
rule, the instructions behind most vetoes, latency percentiles of the monitor's decisions and
of the frames behind them, and the frames of the worst events (``frames/*.png``).
``fleet_summary.json`` holds every count of the tables; the counts are defined in
:mod:`safevla_eval.fleet_log`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from safevla_eval.fleet_log import Event, RobotLog

COUNT_KEYS = (
    "verdicts",
    "decisions",
    "critic_vetoes",
    "proposal_stops",
    "vetoed",
    "stops",
    "events",
    "instructions",
    "frames",
)


def _rate(n: int, d: float) -> str:
    return f"{n / d:.3f}" if d else "-"


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max (None each when there are no values)."""
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None}
    v = np.asarray(values, float)
    out = {k: float(np.percentile(v, q)) for k, q in (("p50", 50), ("p90", 90), ("p99", 99))}
    return {"n": len(values), **out, "max": float(v.max())}


def summary(logs: dict[str, RobotLog]) -> dict:
    """The report's numbers as plain data: per robot and for the fleet (sums of the robots)."""
    robots = {}
    for rid, log in logs.items():
        robots[rid] = {
            "files": log.files,
            "truncated_files": log.truncated,
            "hours_recorded": log.hours_recorded,
            "counts": {k: int(log.counts[k]) for k in COUNT_KEYS},
            "events_by_category": dict(log.events),
            "stops_and_vetoes_by_rule": dict(log.rules),
            "per_hour": {h: dict(c) for h, c in sorted(log.hours.items())},
            "instruction_vetoes": dict(log.instruction_vetoes.most_common()),
            "decision_latency_ms": percentiles(log.decision_latency_ms),
            "frame_age_ms": percentiles(log.frame_age_ms),
            "monitor_last_status": log.monitor_status,
            "recorder_errors": log.recorder_errors,
        }
    fleet = {k: sum(r["counts"][k] for r in robots.values()) for k in COUNT_KEYS}
    cats = sum((Counter(r["events_by_category"]) for r in robots.values()), Counter())
    instr = sum((log.instruction_vetoes for log in logs.values()), Counter())
    return {
        "robots": robots,
        "fleet": {
            "counts": fleet,
            "events_by_category": dict(cats.most_common()),
            "instruction_vetoes": dict(instr.most_common()),
            "decision_latency_ms": percentiles(
                [x for log in logs.values() for x in log.decision_latency_ms]
            ),
            "frame_age_ms": percentiles([x for log in logs.values() for x in log.frame_age_ms]),
        },
    }


def worst_events(logs: dict[str, RobotLog], n: int) -> list[Event]:
    """The ``n`` worst events of the fleet: highest severity, then highest predicted cost."""
    events = [e for log in logs.values() for e in log.event_list]
    return sorted(events, key=lambda e: (e.badness(), -e.t_ns), reverse=True)[:n]


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def _plots(logs: dict[str, RobotLog], s: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    robots = list(logs)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(robots) + 2), 3.2))
    x = np.arange(len(robots))
    for k, (key, label) in enumerate(
        (("critic_vetoes", "veto rate"), ("proposal_stops", "stop rate"))
    ):
        d = [s["robots"][r]["counts"]["decisions"] for r in robots]
        v = [s["robots"][r]["counts"][key] / di if di else 0.0 for r, di in zip(robots, d)]
        ax.bar(x + 0.4 * k - 0.2, v, 0.4, label=label)
    ax.set_xticks(x, robots, rotation=30, ha="right")
    ax.set_ylabel("per decision")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rates.png", dpi=100)
    plt.close(fig)
    names.append("rates.png")
    hours = sorted({h for log in logs.values() for h in log.hours})
    if hours:
        fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(hours) + 3), 3.2))
        x = np.arange(len(hours))  # positions, labelled with the hours
        for r, log in logs.items():
            per = [log.hours.get(h, Counter()) for h in hours]
            ax.plot(x, [c["critic_vetoes"] for c in per], "o-", label=f"{r} vetoes")
            ax.plot(x, [c["proposal_stops"] for c in per], "x--", label=f"{r} stops")
        ax.set_xticks(x, hours)
        ax.set_ylabel("per hour (UTC)")
        ax.tick_params(axis="x", rotation=30)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "per_hour.png", dpi=100)
        plt.close(fig)
        names.append("per_hour.png")
    return names


def write_report(logs: dict[str, RobotLog], out: Path, worst: int = 6) -> dict:
    """Write ``report.md``, its PNGs and ``fleet_summary.json`` into ``out``; returns the
    summary."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    s = summary(logs)
    (out / "fleet_summary.json").write_text(json.dumps(s, indent=2, sort_keys=True))
    pngs = _plots(logs, s, out)
    md = ["# Fleet safety report", ""]
    md += [
        f"{len(logs)} robots, {sum(len(r['files']) for r in s['robots'].values())} files. "
        "Veto and stop rates are per decision (verdicts answering a proposal); `vetoed` and "
        "`stops` count every verdict, as the monitor's diagnostics do.",
        "",
    ]
    md += [
        "| robot | hours | decisions | vetoes | stops | veto rate | stop rate | vetoes/h "
        "| stops/h | all verdicts | vetoed | all stops | events | monitor said (decisions/"
        "vetoes/stops) |",
        "|" + "---|" * 14,
    ]
    for rid, r in [*s["robots"].items(), ("**fleet**", {"counts": s["fleet"]["counts"]})]:
        c, h = (
            r["counts"],
            r.get("hours_recorded", sum(x["hours_recorded"] for x in s["robots"].values())),
        )
        mon = r.get("monitor_last_status", {})
        said = "/".join(mon.get(k, "-") for k in ("decisions", "vetoes", "stops")) if mon else "-"
        md.append(
            f"| {rid} | {h:.3f} | {c['decisions']} | {c['critic_vetoes']} | "
            f"{c['proposal_stops']} | {_rate(c['critic_vetoes'], c['decisions'])} | "
            f"{_rate(c['proposal_stops'], c['decisions'])} | {_rate(c['critic_vetoes'], h)} | "
            f"{_rate(c['proposal_stops'], h)} | {c['verdicts']} | {c['vetoed']} | {c['stops']} "
            f"| {c['events']} | {said} |"
        )
    md += ["", *[f"![{p}]({p})" for p in pngs], ""]
    md += [
        "## Per hour (UTC)",
        "",
        "| robot | hour | decisions | vetoes | stops |",
        "|---|---|---|---|---|",
    ]
    for rid, r in s["robots"].items():
        for hour, c in r["per_hour"].items():
            md.append(
                f"| {rid} | {hour} | {c.get('decisions', 0)} | "
                f"{c.get('critic_vetoes', 0)} | {c.get('proposal_stops', 0)} |"
            )
    md += [
        "",
        "## Events per cost category or rule",
        "",
        "| category | " + " | ".join(s["robots"]) + " | fleet |",
        "|---|" + "---|" * (len(logs) + 1),
    ]
    for cat, n in s["fleet"]["events_by_category"].items():
        per = [str(r["events_by_category"].get(cat, 0)) for r in s["robots"].values()]
        md.append(f"| {cat} | {' | '.join(per)} | {n} |")
    md += ["", "## Instructions behind most vetoes", "", "| vetoes | instruction |", "|---|---|"]
    for text, n in list(s["fleet"]["instruction_vetoes"].items())[:10]:
        md.append(f"| {n} | {text!r} |")
    md += [
        "",
        "## Latency (ms)",
        "",
        "| robot | what | n | p50 | p90 | p99 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for rid, r in [*s["robots"].items(), ("fleet", s["fleet"])]:
        for key, what in (
            ("decision_latency_ms", "monitor decision"),
            ("frame_age_ms", "frame age at decision"),
        ):
            p = r[key]
            md.append(
                f"| {rid} | {what} | {p['n']} | {_fmt(p['p50'])} | {_fmt(p['p90'])} | "
                f"{_fmt(p['p99'])} | {_fmt(p['max'])} |"
            )
    md += ["", "## Worst events", ""]
    frames = out / "frames"
    for i, e in enumerate(worst_events(logs, worst)):
        cost = e.predicted_cost
        md.append(
            f"{i + 1}. **{e.robot_id}** {e.category} (severity {e.severity}"
            + (f", predicted cost {cost:.3f}" if cost == cost else "")
            + f"): {e.reason} (instruction {e.instruction!r})"
        )
        if e.frame is not None:
            frames.mkdir(exist_ok=True)
            name = f"frames/worst_{i + 1}_{e.robot_id}.png"
            plt.imsave(out / name, e.frame)
            md.append(f"   ![{name}]({name})")
    problems = [
        (rid, r) for rid, r in s["robots"].items() if r["truncated_files"] or r["recorder_errors"]
    ]
    if problems:
        md += ["", "## Recording problems", ""]
        for rid, r in problems:
            md += [
                f"- {rid}: file ended early (writer killed; read up to its last flush): {f}"
                for f in r["truncated_files"]
            ]
            md += [f"- {rid}: recorder error: {err}" for err in r["recorder_errors"]]
    (out / "report.md").write_text("\n".join(md) + "\n")
    return s
