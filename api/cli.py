"""Entry point of the `scouts` command: the engine's subcommands plus `serve`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from aiohttp import web

from engine import cli as engine_cli
from engine.config import Settings
from engine.ops.doctor import log_report

log = logging.getLogger(__name__)


async def _serve(settings: Settings) -> None:
    # Imported here: only `serve` needs the HTTP application; the worker and the
    # operator commands start without loading it.
    from api.access_log import QuickAccessLogger
    from api.app import build_services, create_app

    if settings.jwt_secret_generated:
        log.warning("JWT_SECRET is not set: using a random one, so sessions end on restart")
    services = build_services(settings)
    app = create_app(services, run_scheduler=settings.scheduler_enabled)
    # The access log records no credentials (see api/access_log.py).
    runner = web.AppRunner(app, access_log=logging.getLogger("aiohttp.access"),
                           access_log_class=QuickAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, settings.api_host, settings.api_port)
    await site.start()
    log.info("API listening on http://%s:%s", settings.api_host, settings.api_port)
    checkup = asyncio.create_task(log_report(services.engine.doctor, log))
    # SIGTERM (docker stop) ends like Ctrl-C: the scheduler finishes its tick, connections
    # close, then the process exits. An interrupted transition would be redone anyway.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("shutting down")
    finally:
        checkup.cancel()
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if not args.no_migrate:
        from engine import migrate

        migrate.upgrade(settings.database_url, settings.embedding_dim)
    try:
        asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = engine_cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    p = sub.add_parser("serve", help="run the HTTP API (and the scheduler, if enabled)")
    p.add_argument("--no-migrate", action="store_true",
                   help="do not upgrade the database schema before starting")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    return engine_cli.run(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
