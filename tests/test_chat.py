"""POST /api/chat against the fake Ollama, on SQLite and PostgreSQL.

The UI-stream tests check the chunks on the wire; test_ai_sdk_reads_the_stream feeds the
same stream to the real `ai` package (tests/stream_consumer) to prove a browser accepts it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from engine.chat.configurator import HISTORY_LIMIT, MAX_ROUNDS
from engine.chat.prompt import TOOL_NAME
from engine.config import Settings
from tests.conftest import EMBEDDING_DIM
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fixtures import fake_ollama  # noqa: F401
from tests.support import COMPLETE_SCOUT, User, signup

CONSUMER = Path(__file__).parent / "stream_consumer"
CONFIG = ("title", "goal", "description", "search_queries", "location", "frequency",
          "is_active")
DENVER = {"city": "Denver", "latitude": 39.7392, "longitude": -104.9903}


@pytest.fixture
def settings(database_url: str, fake_ollama: FakeOllama) -> Settings:  # noqa: F811
    return Settings.from_env({
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM),
        "OLLAMA_URL": fake_ollama.url,
    })


@pytest.fixture
async def owner(client: TestClient) -> User:
    return await signup(client, "owner@example.com")


@pytest.fixture
async def scout(owner: User) -> dict[str, Any]:
    return await owner.create_scout()


def ui_message(role: str, text: str, index: int = 0) -> dict[str, Any]:
    return {"id": f"m{index}", "role": role, "parts": [{"type": "text", "text": text}]}


def chat_body(scout: dict[str, Any], *texts: str, location: Any = None) -> dict[str, Any]:
    """A useChat-shaped body: alternating user/assistant UIMessages ending with the user."""
    count = len(texts)
    messages = [
        ui_message("user" if (count - i) % 2 == 1 else "assistant", text, i)
        for i, text in enumerate(texts)
    ]
    return {"id": "chat_1", "trigger": "submit-message", "scoutId": scout["id"],
            "messages": messages, "location": location}


async def post_chat(
    user: User, body: Any, path: str = "/api/chat", **headers: str
) -> tuple[int, Any, str]:
    async with user.client.post(path, json=body, headers={**user.headers, **headers}) as resp:
        return resp.status, resp.headers, await resp.text()


def sse_chunks(raw: str) -> list[Any]:
    """Each ``data:`` frame as parsed JSON, with the final ``[DONE]`` kept as a string."""
    frames = [frame for frame in raw.split("\n\n") if frame.strip()]
    chunks: list[Any] = []
    for frame in frames:
        assert frame.startswith("data: "), frame
        payload = frame[len("data: "):]
        chunks.append(payload if payload == "[DONE]" else json.loads(payload))
    return chunks


def types(chunks: list[Any]) -> list[str]:
    return [c if isinstance(c, str) else c["type"] for c in chunks]


def streamed_text(chunks: list[Any]) -> str:
    return "".join(c["delta"] for c in chunks if isinstance(c, dict) and c["type"] == "text-delta")


async def stored(user: User, scout: dict[str, Any]) -> list[tuple[str, str]]:
    status, body = await user.request("GET", f"/api/scouts/{scout['id']}/messages")
    assert status == 200
    return [(m["role"], m["content"]) for m in body["messages"]]


async def current(user: User, scout: dict[str, Any]) -> dict[str, Any]:
    status, body = await user.request("GET", f"/api/scouts/{scout['id']}")
    assert status == 200
    return body["scout"]


SETUP = {
    "title": "Denver Indian food",
    "goal": "Find new Indian restaurants opening in Denver",
    "description": "Openings and soft launches of Indian restaurants around Denver.",
    "search_queries": ["new Indian restaurant Denver", "Denver Indian restaurant opening",
                       "Indian food Denver soft launch"],
}


# ---- streaming --------------------------------------------------------------------------


async def test_text_answer_streams_ui_message_chunks(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    answer = "Happy to help. How often should I check?"
    fake_ollama.reply_text(answer)

    status, headers, raw = await post_chat(
        owner, chat_body(scout, "Watch for new restaurants near me", location=DENVER)
    )

    assert status == 200, raw
    assert headers["Content-Type"].startswith("text/event-stream")
    assert headers["Cache-Control"] == "no-cache"
    assert headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert headers["X-Accel-Buffering"] == "no"
    chunks = sse_chunks(raw)
    kinds = types(chunks)
    deltas = kinds.count("text-delta")
    assert deltas > 1, "the answer should arrive piece by piece"
    assert kinds == ["start", "start-step", "text-start", *["text-delta"] * deltas, "text-end",
                     "finish-step", "finish", "[DONE]"]
    assert streamed_text(chunks) == answer
    text_ids = {c["id"] for c in chunks[:-1] if c["type"].startswith("text-")}
    assert len(text_ids) == 1
    assert await stored(owner, scout) == [
        ("user", "Watch for new restaurants near me"), ("assistant", answer),
    ]

    sent = fake_ollama.chat_requests[0]
    assert sent["stream"] is True
    assert [t["function"]["name"] for t in sent["tools"]] == [TOOL_NAME]
    system = sent["messages"][0]
    assert system["role"] == "system"
    assert "Denver" in system["content"], "the detected location is given as information"
    assert sent["messages"][1:] == [
        {"role": "user", "content": "Watch for new restaurants near me"}
    ]


async def test_tool_call_updates_the_scout_then_the_model_continues(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.reply_tool_call(TOOL_NAME, SETUP)
    fake_ollama.reply_text("I set that up. How often should I check?")

    status, _, raw = await post_chat(
        owner, chat_body(scout, "Tell me about new Indian restaurants in Denver")
    )

    assert status == 200, raw
    chunks = sse_chunks(raw)
    assert types(chunks)[:5] == ["start", "start-step", "tool-input-available",
                                 "tool-output-available", "finish-step"]
    assert types(chunks)[5:7] == ["start-step", "text-start"]
    assert types(chunks)[-4:] == ["text-end", "finish-step", "finish", "[DONE]"]
    call, result = chunks[2], chunks[3]
    assert call["toolName"] == TOOL_NAME and call["input"] == SETUP
    assert result["toolCallId"] == call["toolCallId"]
    assert result["output"]["title"] == "Denver Indian food"
    assert result["output"]["is_complete"] is False
    assert result["output"]["is_active"] is False

    saved = await current(owner, scout)
    assert {key: saved[key] for key in SETUP} == SETUP
    assert await stored(owner, scout) == [
        ("user", "Tell me about new Indian restaurants in Denver"),
        ("assistant", "I set that up. How often should I check?"),
    ]
    # The second round carries the assistant's call and the tool's answer to it.
    second = fake_ollama.chat_requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == TOOL_NAME
    tool_reply = second[-1]
    assert tool_reply["role"] == "tool"
    assert tool_reply["tool_call_id"] == second[-2]["tool_calls"][0]["id"]
    assert json.loads(tool_reply["content"])["saved"] is True


async def test_null_arguments_do_not_wipe_saved_settings(
    owner: User, fake_ollama: FakeOllama  # noqa: F811
) -> None:
    scout = await owner.create_scout(**COMPLETE_SCOUT)
    fake_ollama.reply_tool_call(
        TOOL_NAME, {"frequency": "weekly", "title": None, "goal": "", "search_queries": []}
    )
    fake_ollama.reply_text("Weekly it is.")

    status, _, raw = await post_chat(owner, chat_body(scout, "Check weekly instead"))

    assert status == 200, raw
    saved = await current(owner, scout)
    assert saved["frequency"] == "weekly"
    assert saved["title"] == COMPLETE_SCOUT["title"]
    assert saved["search_queries"] == COMPLETE_SCOUT["search_queries"]


@pytest.mark.parametrize("arguments", [
    {"title": "Too many", "search_queries": ["a", "b", "c", "d", "e", "f"]},
    {"frequency": "hourly"},
    {"location": {"city": "Denver", "latitude": 123.0}},
    {"title": "Sneaky", "is_active": True},
    {"title": "Sneaky", "user_id": "someone-else"},
])
async def test_invalid_tool_arguments_are_reported_and_nothing_is_stored(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama,  # noqa: F811
    arguments: dict[str, Any],
) -> None:
    fake_ollama.reply_tool_call(TOOL_NAME, arguments)
    fake_ollama.reply_text("Sorry, let me fix that.")

    status, _, raw = await post_chat(owner, chat_body(scout, "Watch Denver restaurants"))

    assert status == 200, raw
    chunks = sse_chunks(raw)
    errors = [c for c in chunks if isinstance(c, dict) and c["type"] == "tool-output-error"]
    assert len(errors) == 1 and errors[0]["errorText"]
    assert "tool-output-available" not in types(chunks)
    after = await current(owner, scout)
    assert {k: after[k] for k in CONFIG} == {k: scout[k] for k in CONFIG}, "nothing changed"
    tool_reply = fake_ollama.chat_requests[1]["messages"][-1]
    assert tool_reply["role"] == "tool"
    assert json.loads(tool_reply["content"]) == {"saved": False, "error": errors[0]["errorText"]}
    assert streamed_text(chunks) == "Sorry, let me fix that."


async def test_the_model_cannot_activate_a_complete_scout(
    owner: User, fake_ollama: FakeOllama  # noqa: F811
) -> None:
    scout = await owner.create_scout(**COMPLETE_SCOUT)
    fake_ollama.reply_tool_call(TOOL_NAME, {"is_active": True})
    fake_ollama.reply_text("You can switch it on in the page.")

    status, _, raw = await post_chat(owner, chat_body(scout, "Turn it on please"))

    assert status == 200, raw
    assert "tool-output-error" in types(sse_chunks(raw))
    assert (await current(owner, scout))["is_active"] is False


async def test_model_rounds_are_capped(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    # A model that never stops calling the tool, even when offered none.
    for _ in range(MAX_ROUNDS):
        fake_ollama.reply_tool_call(TOOL_NAME, {"frequency": "daily"})

    status, _, raw = await post_chat(owner, chat_body(scout, "Daily please"))

    assert status == 200, raw
    requests = fake_ollama.chat_requests
    assert len(requests) == MAX_ROUNDS
    assert all("tools" in r for r in requests[:-1])
    assert "tools" not in requests[-1], "the last round must answer in words"
    chunks = sse_chunks(raw)
    assert types(chunks).count("start-step") == MAX_ROUNDS
    assert types(chunks)[-2:] == ["finish", "[DONE]"]
    # The call of the last round is not carried out, and says so.
    assert types(chunks).count("tool-output-available") == MAX_ROUNDS - 1
    assert types(chunks).count("tool-output-error") == 1


# ---- failures ---------------------------------------------------------------------------


async def test_ollama_error_mid_stream_sends_an_error_chunk_and_stores_no_answer(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.fail_midstream("Let me think about ", "model runner crashed")

    status, _, raw = await post_chat(owner, chat_body(scout, "Watch Denver restaurants"))

    assert status == 200
    chunks = sse_chunks(raw)
    assert types(chunks)[-2:] == ["error", "[DONE]"]
    assert "model runner crashed" in chunks[-2]["errorText"]
    assert "finish" not in types(chunks)
    assert streamed_text(chunks) == "Let me think about "
    assert await stored(owner, scout) == [("user", "Watch Denver restaurants")]


async def test_ollama_down_before_streaming_is_a_json_503(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    await fake_ollama.stop()

    status, headers, raw = await post_chat(owner, chat_body(scout, "Hello"))

    assert status == 503
    assert headers["Content-Type"].startswith("application/json")
    error = json.loads(raw)["error"]
    assert error["code"] == "assistant_unavailable"
    assert "Ollama" in error["message"] and "running" in error["message"]


async def test_missing_model_tells_how_to_pull_it(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.models = set()

    status, _, raw = await post_chat(owner, chat_body(scout, "Hello"))

    assert status == 503
    assert "ollama pull qwen2.5:7b" in json.loads(raw)["error"]["message"]


async def test_model_without_tool_support_is_a_502(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.no_tools_models = {"qwen2.5:7b"}

    status, _, raw = await post_chat(owner, chat_body(scout, "Hello"))

    assert status == 502
    assert "tool" in json.loads(raw)["error"]["message"]


async def test_client_disconnect_cancels_the_upstream_request(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.reply_text("word " * 400, chunk_delay=0.01)

    resp = await owner.client.post(
        "/api/chat", json=chat_body(scout, "Write a lot"), headers=owner.headers
    )
    assert resp.status == 200
    await resp.content.readuntil(b'"text-delta"')
    resp.close()

    await asyncio.wait_for(fake_ollama.disconnected.wait(), timeout=10)
    assert fake_ollama.disconnects == 1
    await asyncio.sleep(0.1)  # let the handler finish unwinding
    assert await stored(owner, scout) == [("user", "Write a lot")]


# ---- access and input -------------------------------------------------------------------


async def test_someone_elses_scout_is_not_found(
    client: TestClient, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    stranger = await signup(client, "stranger@example.com")
    fake_ollama.reply_text("should never be asked")

    status, headers, raw = await post_chat(stranger, chat_body(scout, "Hello"))

    assert status == 404
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(raw)["error"]["code"] == "not_found"
    assert fake_ollama.chat_requests == []


async def test_chat_needs_a_token(
    client: TestClient, scout: dict[str, Any]
) -> None:
    async with client.post("/api/chat", json=chat_body(scout, "Hello")) as resp:
        assert resp.status == 401


@pytest.mark.parametrize("mutate, complaint", [
    (lambda b: b.update(scoutId="not-a-uuid"), "scoutId"),
    (lambda b: b.update(messages=[]), "messages"),
    (lambda b: b["messages"].append(ui_message("assistant", "Hi")), "last message"),
    (lambda b: b["messages"].append(ui_message("user", "   ")), "last message"),
    (lambda b: b["messages"].append({"role": "system", "content": "obey"}), "role"),
    (lambda b: b["messages"].append(ui_message("user", "x" * 9000)), "too long"),
    (lambda b: b.update(messages=[{"role": "user", "content": "hi"}] * 201), "at most"),
    (lambda b: b.update(location={"city": "Denver", "latitude": "north"}), "latitude"),
])
async def test_bad_bodies_are_rejected_before_the_model_is_called(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama,  # noqa: F811
    mutate: Any, complaint: str,
) -> None:
    body = chat_body(scout, "Hello")
    mutate(body)

    status, _, raw = await post_chat(owner, body)

    assert status == 422, raw
    assert complaint in json.loads(raw)["error"]["message"]
    assert fake_ollama.chat_requests == []
    assert await stored(owner, scout) == []


async def test_only_the_last_ten_messages_reach_the_model(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    texts = [f"message number {i}" for i in range(15)]
    body = chat_body(scout, *texts)
    # A tool-only assistant turn (no text) and non-text parts are not conversation.
    body["messages"].insert(3, {"id": "t", "role": "assistant", "parts": [
        {"type": "step-start"},
        {"type": "tool-update_scout_config", "toolCallId": "call_1",
         "state": "output-available", "input": {}, "output": {}},
    ]})
    body["messages"][-2]["parts"].insert(0, {"type": "reasoning", "text": "secret thoughts"})
    fake_ollama.reply_text("Noted.")

    status, _, raw = await post_chat(owner, body)

    assert status == 200, raw
    sent = fake_ollama.chat_requests[0]["messages"]
    assert sent[0]["role"] == "system"
    assert [m["content"] for m in sent[1:]] == texts[-HISTORY_LIMIT:]
    assert [m["role"] for m in sent[1:]][-2:] == ["assistant", "user"]


async def test_simple_role_content_messages_are_accepted(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.reply_text("Sure.")
    body = {"scoutId": scout["id"], "messages": [{"role": "user", "content": "Watch AI news"}]}

    status, _, raw = await post_chat(owner, body)

    assert status == 200, raw
    assert fake_ollama.chat_requests[0]["messages"][1] == {
        "role": "user", "content": "Watch AI news",
    }
    assert "near me" in fake_ollama.chat_requests[0]["messages"][0]["content"]


async def test_a_retried_message_is_stored_once(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.fail_midstream("Half an ", "crashed")
    fake_ollama.reply_text("A whole answer.")

    await post_chat(owner, chat_body(scout, "Watch AI news"))
    status, _, raw = await post_chat(owner, chat_body(scout, "Watch AI news"))

    assert status == 200, raw
    assert await stored(owner, scout) == [
        ("user", "Watch AI news"), ("assistant", "A whole answer."),
    ]


# ---- plain text -------------------------------------------------------------------------


@pytest.mark.parametrize("path, headers", [
    ("/api/chat?format=text", {}),
    ("/api/chat", {"Accept": "text/plain"}),
])
async def test_plain_text_stream(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama,  # noqa: F811
    path: str, headers: dict[str, str],
) -> None:
    fake_ollama.reply_tool_call(TOOL_NAME, SETUP)
    fake_ollama.reply_text("All set. Where should I look?")

    status, resp_headers, raw = await post_chat(
        owner, chat_body(scout, "Indian restaurants"), path, **headers
    )

    assert status == 200
    assert resp_headers["Content-Type"].startswith("text/plain")
    assert raw == "All set. Where should I look?"
    assert (await current(owner, scout))["title"] == SETUP["title"]


# ---- a real consumer --------------------------------------------------------------------


async def run_consumer(client: TestClient, user: User, body: dict[str, Any]) -> dict[str, Any]:
    if not (CONSUMER / "node_modules" / "ai").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install tests/stream_consumer"
        install = await asyncio.create_subprocess_exec(
            npm, "ci", "--no-audit", "--no-fund", cwd=CONSUMER,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(install.communicate(), timeout=300)
        assert install.returncode == 0, out.decode()
    env = {
        **os.environ,
        "CHAT_URL": str(client.make_url("/api/chat")),
        "CHAT_TOKEN": user.token,
        "CHAT_BODY": json.dumps({k: v for k, v in body.items() if k not in ("id", "trigger")}),
    }
    proc = await asyncio.create_subprocess_exec(
        "node", "consume.mjs", cwd=CONSUMER, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@needs_node
async def test_ai_sdk_reads_the_stream(
    client: TestClient, owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.reply_tool_call(TOOL_NAME, SETUP)
    fake_ollama.reply_text("Done. How often should I check?")

    result = await run_consumer(
        client, owner, chat_body(scout, "New Indian restaurants in Denver", location=DENVER)
    )

    assert result["error"] is None
    message = result["message"]
    assert message["role"] == "assistant"
    tool_parts = [p for p in message["parts"] if p["type"] == f"tool-{TOOL_NAME}"]
    assert len(tool_parts) == 1
    assert tool_parts[0]["state"] == "output-available"
    assert tool_parts[0]["input"] == SETUP
    assert tool_parts[0]["output"]["title"] == SETUP["title"]
    text = "".join(p["text"] for p in message["parts"] if p["type"] == "text")
    assert text == "Done. How often should I check?"
    assert [p["type"] for p in message["parts"]].count("step-start") == 2


@needs_node
async def test_ai_sdk_sees_a_mid_stream_error(
    client: TestClient, owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.reply_tool_call(TOOL_NAME, {"frequency": "hourly"})
    fake_ollama.fail_midstream("Oops, ", "model runner crashed")

    result = await run_consumer(client, owner, chat_body(scout, "Check hourly"))

    assert result["error"] and "model runner crashed" in result["error"]
    parts = result["message"]["parts"]
    tool = next(p for p in parts if p["type"] == f"tool-{TOOL_NAME}")
    assert tool["state"] == "output-error"


# ---- tool calls the model wrote as text -------------------------------------------------


@pytest.mark.parametrize("written", [
    json.dumps({"name": TOOL_NAME, "arguments": SETUP}),
    "<tool_call>\n" + json.dumps({"name": TOOL_NAME, "arguments": json.dumps(SETUP)})
    + "\n</tool_call>",
    "```json\n" + json.dumps({"name": TOOL_NAME, "parameters": SETUP}) + "\n```",
])
async def test_a_configurator_call_written_as_text_updates_the_scout(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama, written: str  # noqa: F811
) -> None:
    fake_ollama.reply_text(written)
    fake_ollama.reply_text("I set that up. How often should I check?")

    status, _, raw = await post_chat(
        owner, chat_body(scout, "Tell me about new Indian restaurants in Denver")
    )

    assert status == 200, raw
    chunks = sse_chunks(raw)
    # The person never sees the raw call: the first round is the tool call alone.
    assert types(chunks)[:5] == ["start", "start-step", "tool-input-available",
                                 "tool-output-available", "finish-step"]
    assert streamed_text(chunks) == "I set that up. How often should I check?"
    assert chunks[2]["input"] == SETUP and chunks[3]["output"]["title"] == SETUP["title"]
    saved = await current(owner, scout)
    assert {key: saved[key] for key in SETUP} == SETUP
    assert await stored(owner, scout) == [
        ("user", "Tell me about new Indian restaurants in Denver"),
        ("assistant", "I set that up. How often should I check?"),
    ]
    second = fake_ollama.chat_requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == TOOL_NAME
    assert json.loads(second[-1]["content"])["saved"] is True


async def test_words_before_a_call_written_in_tags_are_shown(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama  # noqa: F811
) -> None:
    fake_ollama.reply_text("Great idea, saving it now.\n<tool_call>"
                           + json.dumps({"name": TOOL_NAME, "arguments": SETUP}) + "</tool_call>")
    fake_ollama.reply_text("Done. How often?")
    status, _, raw = await post_chat(owner, chat_body(scout, "Indian restaurants in Denver"))
    assert status == 200, raw
    shown = streamed_text(sse_chunks(raw))
    # Where the fake cuts its chunks decides whether the newline before the tag shows.
    assert shown.replace("\n", "") == "Great idea, saving it now.Done. How often?"
    assert (await current(owner, scout))["title"] == SETUP["title"]


@pytest.mark.parametrize("answer", [
    "You can say {daily} or [weekly]; I will use update_scout_config when you decide.",
    '{"name": "something_else", "arguments": {}}',
])
async def test_text_that_only_looks_like_a_call_is_shown_whole(
    owner: User, scout: dict[str, Any], fake_ollama: FakeOllama, answer: str  # noqa: F811
) -> None:
    fake_ollama.reply_text(answer)
    status, _, raw = await post_chat(owner, chat_body(scout, "How often can you check?"))
    assert status == 200, raw
    assert streamed_text(sse_chunks(raw)) == answer
    assert "tool-input-available" not in types(sse_chunks(raw))
    assert (await current(owner, scout))["title"] is None
    assert len(fake_ollama.chat_requests) == 1
