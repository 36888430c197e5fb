"""OllamaClient against the fake Ollama."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time

import aiohttp
import pytest

from engine.clients.errors import ModelMissing, ServiceBusy, ServiceError, ToolError
from engine.clients.ollama import ChatChunk, OllamaClient, tool_result_message
from engine.clients.retry import RetryPolicy
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fixtures import fake_ollama, http_session  # noqa: F401

FAST = RetryPolicy(
    attempts=3, initial_wait=0.001, max_wait=0.01, jitter=0.001, max_retry_after=0.05
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "searchWeb",
            "description": "Search the web",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
USER = [{"role": "user", "content": "Any news about aiohttp?"}]


def client(session: aiohttp.ClientSession, fake: FakeOllama, **kw: object) -> OllamaClient:
    kw.setdefault("retry", FAST)
    return OllamaClient(session, fake.url, "qwen2.5:7b", "nomic-embed-text", **kw)  # type: ignore[arg-type]


async def test_chat_returns_text_and_usage(http_session, fake_ollama):
    fake_ollama.reply_text("Version 3.14 shipped.", thinking="Let me recall.")
    result = await client(http_session, fake_ollama).chat(USER, options={"temperature": 0})

    assert result.content == "Version 3.14 shipped."
    assert result.thinking == "Let me recall."
    assert result.tool_calls == []
    assert result.done_reason == "stop"
    assert result.prompt_tokens and result.eval_tokens
    sent = fake_ollama.chat_requests[0]
    assert sent["stream"] is False
    assert sent["model"] == "qwen2.5:7b"
    assert sent["options"] == {"temperature": 0}
    assert "tools" not in sent


async def test_chat_sends_format_and_tools(http_session, fake_ollama):
    schema = {"type": "object", "properties": {"taskCompleted": {"type": "boolean"}}}
    fake_ollama.reply_text('{"taskCompleted": true}')
    await client(http_session, fake_ollama).chat(USER, tools=TOOLS, format=schema)
    sent = fake_ollama.chat_requests[0]
    assert sent["format"] == schema
    assert sent["tools"] == TOOLS


async def test_chat_parses_several_tool_calls(http_session, fake_ollama):
    fake_ollama.reply_tool_calls(
        ("searchWeb", {"query": "a"}), ("scrapeWebsite", {"url": "https://x.example"})
    )
    result = await client(http_session, fake_ollama).chat(USER, tools=TOOLS)

    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("searchWeb", {"query": "a"}),
        ("scrapeWebsite", {"url": "https://x.example"}),
    ]
    assert all(re.fullmatch(r"call_[a-z0-9]{8}", c.id) for c in result.tool_calls)
    # The assistant turn can be sent back as is, paired with the tool result.
    message = result.assistant_message()
    assert message["tool_calls"][1]["function"]["name"] == "scrapeWebsite"
    answer = tool_result_message(result.tool_calls[0], [{"title": "t"}])
    assert answer["tool_call_id"] == result.tool_calls[0].id
    assert json.loads(answer["content"]) == [{"title": "t"}]


async def test_missing_call_ids_are_generated_and_string_arguments_accepted(http_session):
    async with FakeOllama(with_call_ids=False) as fake:
        fake.reply_tool_calls(("searchWeb", '{"query": "b"}'), ("searchWeb", {"query": "c"}))
        result = await client(http_session, fake).chat(USER, tools=TOOLS)
    ids = [c.id for c in result.tool_calls]
    assert all(re.fullmatch(r"call_[a-z0-9]{8}", i) for i in ids)
    assert len(set(ids)) == 2
    assert result.tool_calls[0].arguments == {"query": "b"}


@pytest.mark.parametrize("arguments", ['["not", "an", "object"]', "{broken"])
async def test_tool_arguments_must_be_an_object(http_session, fake_ollama, arguments):
    fake_ollama.reply_tool_call("searchWeb", arguments)
    with pytest.raises(ToolError, match="searchWeb"):
        await client(http_session, fake_ollama).chat(USER, tools=TOOLS)


async def test_retries_429_honouring_retry_after_then_succeeds(http_session, fake_ollama):
    fake_ollama.fail(429, "too many requests", retry_after=1, times=2)
    fake_ollama.reply_text("finally")
    policy = RetryPolicy(
        attempts=3, initial_wait=0.001, max_wait=0.001, jitter=0, max_retry_after=0.2
    )
    started = time.monotonic()
    result = await client(http_session, fake_ollama, retry=policy).chat(USER)
    elapsed = time.monotonic() - started

    assert result.content == "finally"
    assert len(fake_ollama.chat_requests) == 3
    # Two waits, each the server's Retry-After capped at 0.2 s (not the 1 ms backoff).
    assert elapsed >= 0.35


async def test_exhausted_retries_raise_service_busy_with_retry_after(http_session, fake_ollama):
    fake_ollama.fail(503, "server busy", retry_after=7, times=3)
    with pytest.raises(ServiceBusy) as caught:
        await client(http_session, fake_ollama).chat(USER)
    assert caught.value.retry_after == 7
    assert caught.value.service == "ollama"
    assert len(fake_ollama.chat_requests) == 3


async def test_connection_refused_is_busy(http_session):
    async with FakeOllama() as fake:
        url = fake.url
    dead = OllamaClient(http_session, url, "qwen2.5:7b", "nomic-embed-text", retry=FAST)
    with pytest.raises(ServiceBusy) as caught:
        await dead.chat(USER)
    assert caught.value.retry_after is None


async def test_unknown_model_says_how_to_pull_it(http_session, fake_ollama):
    missing = OllamaClient(
        http_session, fake_ollama.url, "llama9:70b", "nomic-embed-text", retry=FAST
    )
    with pytest.raises(ModelMissing) as caught:
        await missing.chat(USER)
    assert "run `ollama pull llama9:70b`" in str(caught.value)
    assert caught.value.status == 404
    assert len(fake_ollama.chat_requests) == 1  # not retried


async def test_model_without_tools_gives_clear_error(http_session):
    async with FakeOllama(models=["gemma:2b"], no_tools_models=["gemma:2b"]) as fake:
        c = OllamaClient(http_session, fake.url, "gemma:2b", "x", retry=FAST)
        with pytest.raises(ServiceError) as caught:
            await c.chat(USER, tools=TOOLS)
    assert "does not support tool calling" in caught.value.message
    assert not isinstance(caught.value, ModelMissing)


async def collect(stream) -> list[ChatChunk]:
    return [chunk async for chunk in stream]


async def test_stream_yields_tokens_then_tool_calls_then_done(http_session, fake_ollama):
    fake_ollama.reply_tool_calls(("searchWeb", {"query": "x"}), content="Searching for it now.")
    chunks = await collect(client(http_session, fake_ollama).stream_chat(USER, tools=TOOLS))

    assert fake_ollama.chat_requests[0]["stream"] is True
    text_chunks = [c.content for c in chunks if c.content]
    assert len(text_chunks) > 1  # token by token
    assert "".join(text_chunks) == "Searching for it now."
    calls = [call for c in chunks for call in c.tool_calls]
    assert [(c.name, c.arguments) for c in calls] == [("searchWeb", {"query": "x"})]
    assert chunks[-1].done and chunks[-1].done_reason == "stop"
    assert chunks[-1].eval_tokens is not None
    assert not any(c.done for c in chunks[:-1])


async def test_stream_mid_stream_error_raises(http_session, fake_ollama):
    fake_ollama.fail_midstream("Partial answer", "model runner crashed")
    received: list[str] = []
    with pytest.raises(ServiceError, match="model runner crashed"):
        async for chunk in client(http_session, fake_ollama).stream_chat(USER):
            received.append(chunk.content)
    assert "".join(received) == "Partial answer"
    assert len(fake_ollama.chat_requests) == 1  # nothing retried after output began


async def test_stream_retries_before_first_byte(http_session, fake_ollama):
    fake_ollama.fail(429, retry_after=0, times=1)
    fake_ollama.reply_text("ok then")
    chunks = await collect(client(http_session, fake_ollama).stream_chat(USER))
    assert "".join(c.content for c in chunks) == "ok then"
    assert len(fake_ollama.chat_requests) == 2


async def test_stream_unknown_model(http_session, fake_ollama):
    c = OllamaClient(http_session, fake_ollama.url, "nope:1b", "x", retry=FAST)
    with pytest.raises(ModelMissing, match="ollama pull nope:1b"):
        await collect(c.stream_chat(USER))


async def test_cancelling_the_consumer_closes_the_upstream(http_session):
    async with FakeOllama(chunk_delay=0.05) as fake:
        fake.reply_text(" ".join(f"word{i}" for i in range(200)))
        got_first = asyncio.Event()

        async def consume() -> None:
            async for _ in client(http_session, fake).stream_chat(USER):
                got_first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The fake notices the dropped connection long before it would have finished (10 s).
        await asyncio.wait_for(fake.disconnected.wait(), 2)
    assert fake.disconnects == 1


async def test_breaking_out_of_the_stream_closes_the_upstream(http_session):
    async with FakeOllama(chunk_delay=0.05) as fake:
        fake.reply_text(" ".join(f"word{i}" for i in range(200)))
        stream = client(http_session, fake).stream_chat(USER)
        async for _ in stream:
            break
        await stream.aclose()
        await asyncio.wait_for(fake.disconnected.wait(), 2)


async def test_embed_returns_normalised_deterministic_vectors(http_session):
    async with FakeOllama(embed_dim=16) as fake:
        c = client(http_session, fake)
        first = await c.embed(["new ramen shop", "rocket launch"])
        again = await c.embed(["new ramen shop"])
        assert fake.embed_requests[0] == {
            "model": "nomic-embed-text",
            "input": ["new ramen shop", "rocket launch"],
        }
    assert len(first) == 2 and all(len(v) == 16 for v in first)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-9) for v in first)
    assert again[0] == first[0]
    assert first[0] != first[1]


async def test_embed_scripted_similar_texts(http_session):
    async with FakeOllama(embed_dim=32) as fake:
        fake.make_similar("A ramen shop opened downtown", like="New ramen place opens in downtown")
        a, b, c_ = await client(http_session, fake).embed(
            ["New ramen place opens in downtown", "A ramen shop opened downtown", "Rocket launch"]
        )

    def cosine(x: list[float], y: list[float]) -> float:
        return sum(p * q for p, q in zip(x, y, strict=True))  # unit vectors: dot = cosine

    assert cosine(a, b) > 0.99
    assert cosine(a, c_) < 0.85


async def test_embed_empty_list_makes_no_request(http_session, fake_ollama):
    assert await client(http_session, fake_ollama).embed([]) == []
    assert fake_ollama.embed_requests == []


async def test_embed_retries_then_busy(http_session, fake_ollama):
    fake_ollama.fail_embed(503, times=5)
    with pytest.raises(ServiceBusy):
        await client(http_session, fake_ollama).embed(["x"])
    assert len(fake_ollama.embed_requests) == 3


async def test_embed_unknown_model(http_session, fake_ollama):
    c = OllamaClient(http_session, fake_ollama.url, "qwen2.5:7b", "mxbai-embed-large", retry=FAST)
    with pytest.raises(ModelMissing, match="ollama pull mxbai-embed-large"):
        await c.embed(["x"])


async def test_slow_answer_times_out_and_counts_as_busy(http_session, fake_ollama):
    for _ in range(3):
        fake_ollama.reply_text("too late", delay=1.0)
    c = client(http_session, fake_ollama, timeout=0.1)
    with pytest.raises(ServiceBusy, match="timed out"):
        await c.chat(USER)
    assert len(fake_ollama.chat_requests) == 3


async def test_stream_read_timeout_after_first_chunk_is_busy(http_session, fake_ollama):
    fake_ollama.reply_text("one two three four", chunk_delay=0.5)
    received: list[str] = []
    with pytest.raises(ServiceBusy, match="broke off"):
        async for chunk in client(http_session, fake_ollama, timeout=0.1).stream_chat(USER):
            received.append(chunk.content)
    assert received == ["one "]
    assert len(fake_ollama.chat_requests) == 1
