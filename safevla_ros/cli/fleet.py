"""``safevla fleet report``: one report over the safety recordings (MCAP) of any number of
robots: veto and stop rates per robot and per hour, events per category, the instructions
behind most vetoes, latency percentiles and the frames of the worst events.

The recordings are those of the safety recorder node (``safety_recorder_node``, started by both
launch files and by ``safevla run``); reading and counting is :mod:`safevla_eval.fleet_log`,
the report :mod:`safevla_eval.fleet_report`.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    fleet = subparsers.add_parser(
        "fleet",
        help="reports over the safety recordings of a fleet",
        description="Reports over the MCAP files the safety recorder writes on each robot.",
    )
    sub = fleet.add_subparsers(dest="fleet_command", metavar="COMMAND")
    p = sub.add_parser(
        "report",
        help="markdown + PNG report of vetoes, stops, events and latency per robot",
        description="Read the safety recordings (MCAP files or folders of them; any number of "
        "robots, files of a killed recorder included) and write report.md, its PNGs and "
        "fleet_summary.json into --out.",
    )
    p.add_argument("logs", nargs="+", metavar="LOG", help="MCAP file or folder of MCAP files")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument(
        "--worst", type=int, default=6, help="how many worst events to show (default 6)"
    )
    p.set_defaults(func=run)
    fleet.set_defaults(func=lambda args: fleet.print_help() or 2)


def run(args: argparse.Namespace) -> int:
    from safevla_core.errors import UserError
    from safevla_eval.fleet_log import read_fleet
    from safevla_eval.fleet_report import write_report
    from safevla_ros.cli.outputs import check_output_dir

    if args.worst < 0:
        raise UserError(f"--worst {args.worst}: must be >= 0")
    out = check_output_dir(args.out, "--out")
    logs = read_fleet(args.logs)
    s = write_report(logs, out, args.worst)
    c = s["fleet"]["counts"]
    print(
        f"safevla fleet report: {len(logs)} robots, {c['decisions']} decisions, "
        f"{c['critic_vetoes']} vetoes, {c['proposal_stops']} stops, {c['events']} events "
        f"-> {out / 'report.md'}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m safevla_ros.cli.fleet report ...`` (the same as ``safevla fleet``)."""
    from safevla_ros.cli.main import run_standalone

    return run_standalone(add_parser, argv, ("fleet",))


if __name__ == "__main__":
    sys.exit(main())
