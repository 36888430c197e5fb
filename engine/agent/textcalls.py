"""Tool calls a model wrote as text instead of in ``tool_calls``.

Ollama fills ``message.tool_calls`` only when the model's output matches its template;
several models in common use answer with the call in ``content`` instead: a bare JSON
object or list, ``<tool_call>…</tool_call>`` tags, or a fenced code block. One parser
serves the agent and the chat configurator so both accept the same forms.

Only whole structures count, and only calls of tools that were offered: prose that names a
tool, a JSON final answer, or a code sample stays text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.clients.ollama import ToolCall, new_call_id, parse_arguments

_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCED = re.compile(r"```[ \t]*(?:json|tool_call|tool_code)?[ \t]*\n(.*?)```", re.DOTALL)
# Separators models put between several bare calls.
_BETWEEN = re.compile(r"[\s,;]*")


@dataclass(frozen=True)
class Recovered:
    calls: list[ToolCall]
    # What the content says once the calls are taken out (often nothing).
    text: str


def _call_from(obj: Any, offered: frozenset[str]) -> ToolCall | None:
    """A call of an offered tool, or None when ``obj`` is not shaped like one."""
    if not isinstance(obj, dict):
        return None
    function = obj.get("function")
    source = function if isinstance(function, dict) else obj
    name = source.get("name")
    if not isinstance(name, str) or name not in offered:
        return None
    # llama3.1's template says "parameters"; qwen's says "arguments".
    raw = source.get("arguments", source.get("parameters"))
    call_id = obj.get("id")
    if not isinstance(call_id, str) or not call_id:
        call_id = new_call_id()
    return ToolCall(call_id, name, parse_arguments(name, raw))


def _json_values(text: str) -> list[Any] | None:
    """Every JSON value in ``text`` when it holds nothing else (separators aside)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = _BETWEEN.match(text, 0)
    index = position.end() if position else 0
    while index < len(text):
        try:
            value, index = decoder.raw_decode(text, index)
        except ValueError:
            return None
        values.append(value)
        gap = _BETWEEN.match(text, index)
        index = gap.end() if gap else index
    return values


def _calls_in(text: str, offered: frozenset[str]) -> list[ToolCall] | None:
    """The calls ``text`` consists of, or None when it is anything else."""
    values = _json_values(text.strip())
    if not values:
        return None
    calls: list[ToolCall] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        if not items:
            return None
        for item in items:
            call = _call_from(item, offered)
            if call is None:
                return None
            calls.append(call)
    return calls


def recover_tool_calls(content: str, offered: Iterable[str]) -> Recovered | None:
    """The tool calls written in ``content``, or None when it is plain text.

    Raises ToolError when a call of an offered tool carries arguments that are not a JSON
    object: the model meant to call the tool and should be told what went wrong.
    """
    names = frozenset(offered)
    if not names or not content.strip():
        return None
    for pattern in (_TAGGED, _FENCED):
        found: list[ToolCall] = []
        rest = content
        for match in pattern.finditer(content):
            calls = _calls_in(match.group(1), names)
            if calls is None:
                continue
            found += calls
            rest = rest.replace(match.group(0), "", 1)
        if found:
            return Recovered(found, rest.strip())
    calls = _calls_in(content, names)
    return Recovered(calls, "") if calls else None
