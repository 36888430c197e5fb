"""The demo script and the standalone fake server, driven through the real clients."""

from __future__ import annotations

import asyncio
import json
import sys
from email.message import EmailMessage
from pathlib import Path

import aiohttp

from engine.clients.crawl4ai import Crawl4AIClient
from engine.clients.mailer import Mailer
from engine.clients.ollama import OllamaClient, tool_result_message
from engine.clients.searxng import SearxngClient
from tests.fakes.demo import demo_config, install_demo
from tests.fakes.demo_mail import DemoMail
from tests.fakes.fake_crawl4ai import FakeCrawl4AI
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_searxng import FakeSearxng

AGENT_TOOLS = [
    {
        "type": "function",
        "function": {"name": n, "description": n, "parameters": {"type": "object"}},
    }
    for n in ("searchWeb", "scrapeWebsite")
]
CONFIG_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "update_scout_config",
            "description": "",
            "parameters": {"type": "object"},
        },
    }
]
ROOT = Path(__file__).resolve().parents[1]


async def run_agent(session: aiohttp.ClientSession, urls: dict[str, str]) -> dict:
    """A miniature scout run: plan, search, plan, scrape, plan, answer."""
    ollama = OllamaClient(session, urls["ollama"], "qwen2.5:7b", "nomic-embed-text")
    search = SearxngClient(session, urls["searxng"])
    crawl = Crawl4AIClient(
        session, urls["crawl4ai"], urls["crawl4ai_token"], frozenset({"127.0.0.1"})
    )
    messages: list[dict] = [{"role": "user", "content": "Find new ramen shops in Denver"}]
    for _ in range(5):
        turn = await ollama.chat(messages, tools=AGENT_TOOLS)
        messages.append(turn.assistant_message())
        if not turn.tool_calls:
            return json.loads(turn.content)
        for call in turn.tool_calls:
            if call.name == "searchWeb":
                found = await search.search(call.arguments["query"], time_range="day")
                output: object = [{"title": r.title, "url": r.url} for r in found]
            else:
                page = await crawl.scrape(call.arguments["url"])
                output = {"title": page.title, "markdown": page.markdown}
            messages.append(tool_result_message(call, output))
    raise AssertionError("the demo agent never answered")


async def test_demo_agent_flow_in_process():
    async with FakeOllama() as ollama, FakeSearxng() as searxng, FakeCrawl4AI(token="t") as crawl:
        pages = install_demo(ollama, searxng, crawl)
        urls = {
            "ollama": ollama.url,
            "searxng": searxng.url,
            "crawl4ai": crawl.url,
            "crawl4ai_token": "t",
        }
        async with aiohttp.ClientSession() as session:
            answer = await run_agent(session, urls)
    assert answer["taskCompleted"] is True and answer["taskStatus"] == "completed"
    assert pages[0] in answer["response"]
    assert crawl.crawled_urls == [pages[0]]  # the scraped page came from the search results
    assert "reddit" not in json.dumps(ollama.chat_requests[1]["messages"])


async def test_demo_configurator_fills_the_scout_then_replies():
    async with FakeOllama() as ollama, FakeSearxng() as searxng, FakeCrawl4AI() as crawl:
        install_demo(ollama, searxng, crawl)
        async with aiohttp.ClientSession() as session:
            client = OllamaClient(session, ollama.url, "qwen2.5:7b", "nomic-embed-text")
            messages: list[dict] = [{"role": "user", "content": "ramen in Denver"}]
            chunks = [c async for c in client.stream_chat(messages, tools=CONFIG_TOOLS)]
            calls = [call for c in chunks for call in c.tool_calls]
            assert [c.name for c in calls] == ["update_scout_config"]
            assert calls[0].arguments == demo_config(["ramen in Denver"])
            assert calls[0].arguments["location"]["city"] == "Denver"
            assert calls[0].arguments["title"] == "Ramen"
            messages += [
                {"role": "assistant", "content": "", "tool_calls": [calls[0].to_wire()]},
                tool_result_message(calls[0], {"ok": True}),
            ]
            reply = "".join(
                [c.content async for c in client.stream_chat(messages, tools=CONFIG_TOOLS)]
            )
    assert "ramen" in reply and "_" not in reply


async def test_serve_cli_runs_all_fakes_and_writes_the_port_file(tmp_path):
    port_file = tmp_path / "fakes.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.serve",
        "--port-file",
        str(port_file),
        "--chunk-delay",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(100):
            if port_file.exists():
                break
            await asyncio.sleep(0.05)
        urls = json.loads(port_file.read_text())
        async with aiohttp.ClientSession() as session:
            async with session.get(urls["ollama"] + "/") as resp:
                assert await resp.text() == "Ollama is running"
            async with session.get(urls["crawl4ai"] + "/health") as resp:
                assert (await resp.json())["status"] == "ok"
            answer = await run_agent(session, urls)
        assert answer["taskCompleted"] is True
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0


def test_demo_configurator_follows_what_the_user_typed():
    ai = demo_config(["AI coding tool launches", "Weekly is enough"])
    assert ai["title"] == "AI coding tool launches"
    assert ai["location"]["city"] == "any" and ai["frequency"] == "weekly"
    assert ai["search_queries"][0] == "AI coding tool launches"

    local = demo_config(["New Indian restaurants in Boulder"])
    assert local["title"] == "Indian restaurants"
    assert demo_config(["Launches of AI coding tools"])["title"] == "Launches of AI coding tools"
    assert local["location"] == {"city": "Boulder", "latitude": None, "longitude": None}
    assert "New Indian restaurants Boulder" not in local["search_queries"]
    assert "New Indian restaurants in Boulder" in local["search_queries"]
    assert local["frequency"] == "daily"
    assert len(local["search_queries"]) <= 5


async def _through_demo_mail(to: str, text: str) -> EmailMessage:
    """What the demo's mail server caught of one email the real mailer sent."""
    mail = DemoMail()
    await mail.start()
    try:
        mailer = Mailer(mail.url, "Open Scouts <scouts@localhost>")
        await mailer.send(to, "Open Scouts test email", text, "<p>Hello.</p>")
        await mailer.close()
    finally:
        await mail.stop()
    [message] = mail.messages
    return message


async def test_demo_mail_catches_what_the_real_mailer_sends():
    message = await _through_demo_mail("owner@example.com", "Hello.\n.dot line\n")
    assert message["To"] == "owner@example.com"
    assert message["Subject"] == "Open Scouts test email"
    assert ".dot line" in message.get_body(("plain",)).get_content()


async def test_demo_mail_takes_an_address_with_non_ascii_letters():
    """Signup accepts 'zoë@…'; the demo's mail server, like Mailpit in the compose setup,
    speaks SMTPUTF8, so the demo's test email reaches such an account too."""
    message = await _through_demo_mail("zoë@xn--bcher-kva.example", "Hello.\n")
    assert message["To"] == "zoë@xn--bcher-kva.example"
