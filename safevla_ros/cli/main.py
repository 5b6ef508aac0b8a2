"""``safevla``: one entry point, one subcommand per job.

Subcommands live in their own modules, each exposing ``add_parser(subparsers)`` that registers
its parser and sets ``func`` (a callable taking the parsed args and returning an exit status).
Modules are imported lazily-by-list so ``safevla --help`` stays fast and a subcommand whose
heavy dependencies (torch, rclpy) are missing fails with a clear message only when used.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from safevla_core.errors import UserError
from safevla_ros import __version__

# (module, summary) per subcommand group; each module registers its own subcommand(s).
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "safevla_ros.runner",  # run
    "safevla_ros.cli.sim",  # sim
    "safevla_ros.cli.train",  # train, export
    "safevla_ros.cli.eval",  # eval
    "safevla_ros.cli.info",  # info
    "safevla_ros.cli.fleet",  # fleet report
)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The full ``safevla`` parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="safevla",
        description=(
            "safevla_ros: run, train, evaluate and certify a safety-aligned "
            "vision-language-action policy (ROS 2, MuJoCo, AI2-THOR)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"safevla {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging and full tracebacks"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.add_parser(subparsers)
    return parser


def run_standalone(add_parser, argv: list[str] | None, prefix: tuple[str, ...] = ()) -> int:
    """Run one subcommand module on its own (``python -m safevla_ros.cli.sim sim ...``), with the
    same parser, error handling and exit statuses as ``safevla``.

    Args:
        add_parser: the module's ``add_parser(subparsers)``.
        argv: arguments (default ``sys.argv[1:]``), after ``prefix``.
        prefix: subcommand words prepended to ``argv`` (e.g. ``("eval",)``).
    """
    parser = argparse.ArgumentParser(prog="safevla")
    add_parser(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args([*prefix, *(sys.argv[1:] if argv is None else argv)])
    return _dispatch(parser, args)


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if getattr(args, "verbose", False) or os.environ.get("SAFEVLA_TRACEBACK"):
            raise
        print(f"safevla {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"safevla {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Run ``safevla``; returns the exit status (0 ok, 1 failure, 2 user error, 130 Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return _dispatch(parser, args)


if __name__ == "__main__":
    sys.exit(main())
