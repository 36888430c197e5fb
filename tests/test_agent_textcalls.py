"""Tool calls a model wrote as text: which forms count, and what stays text."""

from __future__ import annotations

import json

import pytest

from engine.agent.textcalls import recover_tool_calls
from engine.chat.configurator import hold_from
from engine.clients.errors import ToolError

OFFERED = ("searchWeb", "scrapeWebsite")


def calls_of(content: str) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    found = recover_tool_calls(content, OFFERED)
    assert found is not None, "expected tool calls"
    return [(c.name, c.arguments) for c in found.calls]


def test_bare_json_object() -> None:
    assert calls_of('{"name": "searchWeb", "arguments": {"query": "ramen Denver"}}') == [
        ("searchWeb", {"query": "ramen Denver"})]


def test_bare_list_and_several_objects_in_a_row() -> None:
    listed = json.dumps([{"name": "searchWeb", "arguments": {"query": "a"}},
                         {"name": "scrapeWebsite", "arguments": {"url": "https://x.example"}}])
    assert [n for n, _ in calls_of(listed)] == ["searchWeb", "scrapeWebsite"]
    in_a_row = ('{"name": "searchWeb", "parameters": {"query": "a"}};\n'
                '{"name": "searchWeb", "parameters": {"query": "b"}}')
    assert calls_of(in_a_row) == [("searchWeb", {"query": "a"}), ("searchWeb", {"query": "b"})]


def test_tool_call_tags_with_text_around_them() -> None:
    found = recover_tool_calls(
        "I will look that up.\n<tool_call>\n{\"name\": \"searchWeb\", \"arguments\": "
        "{\"query\": \"ramen\"}}\n</tool_call>", OFFERED)
    assert found is not None
    assert [(c.name, c.arguments) for c in found.calls] == [("searchWeb", {"query": "ramen"})]
    assert found.text == "I will look that up."


def test_unclosed_tag_at_the_end_still_counts() -> None:
    assert calls_of('<tool_call>{"name": "searchWeb", "arguments": {"query": "q"}}') == [
        ("searchWeb", {"query": "q"})]


def test_fenced_block_and_arguments_as_a_json_string() -> None:
    content = ('```json\n{"function": {"name": "scrapeWebsite", '
               '"arguments": "{\\"url\\": \\"https://x.example/a\\"}"}}\n```')
    assert calls_of(content) == [("scrapeWebsite", {"url": "https://x.example/a"})]


def test_ids_are_kept_or_made() -> None:
    found = recover_tool_calls('{"id": "call_abc", "name": "searchWeb", "arguments": {}}',
                               OFFERED)
    assert found is not None and found.calls[0].id == "call_abc"
    found = recover_tool_calls('{"name": "searchWeb", "arguments": {}}', OFFERED)
    assert found is not None and found.calls[0].id.startswith("call_")


@pytest.mark.parametrize("content", [
    "I would use searchWeb to look for ramen in Denver.",
    '{"taskCompleted": true, "taskStatus": "completed", "response": "## Found"}',
    '{"name": "deleteEverything", "arguments": {}}',
    '{"name": "searchWeb", "arguments": {"query": "a"}} and then I will read the results',
    "```python\nprint('searchWeb')\n```",
    '<tool_call>{"name": "searchWeb", "arguments": {"query": "a"}</tool_call>',  # broken JSON
    "[]",
    "",
])
def test_text_that_is_not_a_call_stays_text(content: str) -> None:
    assert recover_tool_calls(content, OFFERED) is None


def test_nothing_is_recovered_when_no_tool_was_offered() -> None:
    assert recover_tool_calls('{"name": "searchWeb", "arguments": {}}', ()) is None


def test_a_call_with_unreadable_arguments_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="not JSON"):
        recover_tool_calls('{"name": "searchWeb", "arguments": "{query: oops"}', OFFERED)


@pytest.mark.parametrize(("text", "start", "held"), [
    ("Which city? See [the map](https://m.example) first.", 0, None),
    ('{"name": "update_scout_config"', 0, 0),
    ('  [{"name"', 0, 0),
    ("Saving it.\n<tool_call>{", 0, 11),
    ("Saving it.\n<too", 0, 11),  # may still become a tag
    ("Use <b>bold</b>", 0, None),
    ("Here:\n```json\n{", 0, 6),
    ("Costs {a lot}", 0, None),  # a brace inside prose is no call
    ("Saving.\n<tool_call>", 8, 8),
])
def test_chat_holds_back_only_what_may_become_a_call(text: str, start: int,
                                                     held: int | None) -> None:
    assert hold_from(text, start) == held
