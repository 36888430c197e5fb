"""Run the three HTTP fakes as a standalone process with the demo script (see demo.py).

    python -m tests.fakes.serve --port-file /tmp/fakes.json [--crawl4ai-token demo-token]

Writes ``{"ollama": url, "searxng": url, "crawl4ai": url, "crawl4ai_token": token}`` to the
port file (atomically, once all three listen) and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path

from tests.fakes.demo import install_demo
from tests.fakes.demo_mail import DemoMail
from tests.fakes.fake_crawl4ai import FakeCrawl4AI
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_searxng import FakeSearxng


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port-file", required=True, type=Path, help="where to write the URLs as JSON"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ollama-port", type=int, default=0)
    parser.add_argument("--searxng-port", type=int, default=0)
    parser.add_argument("--crawl4ai-port", type=int, default=0)
    parser.add_argument("--crawl4ai-token", default="demo-token")
    parser.add_argument("--chat-model", default="qwen2.5:7b")
    parser.add_argument("--embed-model", default="nomic-embed-text")
    parser.add_argument("--embed-dim", type=int, default=768)
    parser.add_argument(
        "--chunk-delay", type=float, default=0.02, help="seconds between streamed tokens"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds every answer waits (benchmarks)"
    )
    parser.add_argument(
        "--agent-delay", type=float, default=0.0,
        help="seconds each model step of a scout run takes (to watch a run unfold)",
    )
    parser.add_argument(
        "--smtp", action="store_true", help="also run an SMTP sink (port file key 'smtp')"
    )
    parser.add_argument(
        "--demo-mail", action="store_true",
        help="also run the demo's mail catcher, standard library only (port file key 'smtp')",
    )
    return parser.parse_args(argv)


def write_port_file(path: Path, data: dict[str, str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)  # readers never see a half-written file


async def serve(args: argparse.Namespace) -> None:
    ollama = FakeOllama(
        models=[args.chat_model, args.embed_model],
        embed_dim=args.embed_dim,
        chunk_delay=args.chunk_delay,
        host=args.host,
        port=args.ollama_port,
    )
    searxng = FakeSearxng(host=args.host, port=args.searxng_port)
    crawl4ai = FakeCrawl4AI(
        token=args.crawl4ai_token or None, host=args.host, port=args.crawl4ai_port
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for fake in (ollama, searxng, crawl4ai):
        fake.latency = args.latency
    sink = None
    if args.smtp:
        from tests.fakes.smtp_sink import SmtpSink  # aiosmtpd is a test-only dependency

        sink = SmtpSink(args.host)
        sink.start()
    demo_mail = DemoMail(args.host) if args.demo_mail else None
    if demo_mail is not None:
        await demo_mail.start()
    async with ollama, searxng, crawl4ai:
        install_demo(ollama, searxng, crawl4ai, args.agent_delay)
        urls = {
            "ollama": ollama.url,
            "searxng": searxng.url,
            "crawl4ai": crawl4ai.url,
            "crawl4ai_token": args.crawl4ai_token,
        }
        if sink is not None:
            urls["smtp"] = sink.url
        elif demo_mail is not None:
            urls["smtp"] = demo_mail.url
        write_port_file(args.port_file, urls)
        print(
            f"fakes ready: ollama={ollama.url} searxng={searxng.url} crawl4ai={crawl4ai.url}",
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            if sink is not None:
                sink.stop()
            if demo_mail is not None:
                await demo_mail.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
