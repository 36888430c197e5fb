"""The `scouts` command's engine subcommands (the API adds `serve` in api/cli.py)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from engine import migrate
from engine.config import ConfigError, Settings

Command = Callable[[argparse.Namespace, Settings], int]


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    migrate.upgrade(settings.database_url, settings.embedding_dim, args.revision)
    print(f"database is at revision {args.revision}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scouts", description="Open Scouts")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=cmd_migrate)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    func: Command = args.func
    return func(args, settings)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)
