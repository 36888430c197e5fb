"""What each working state does. One call = one transition's worth of work.

Steps talk to the outside world and return an Outcome; they never touch the database.
The runner persists the outcome (new state, checkpoint, history row) in one transaction,
so a step that crashes halfway simply runs again on the next claim.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.agent.answers import (
    BadToolCall,
    clean_summary,
    normalise_query,
    parse_answer,
    scrape_url,
    search_call,
)
from engine.agent.prompt import (
    MAX_PAGES,
    MAX_ROUNDS,
    REMIND_EVERY,
    TOOLS,
    final_round_message,
    kickoff_message,
    reminder,
    summary_messages,
    system_prompt,
)
from engine.agent.queries import scout_city, with_city
from engine.agent.textcalls import recover_tool_calls
from engine.clients.crawl4ai import PageFailed
from engine.clients.errors import BlockedURL, ServiceBusy, ServiceError, ToolError
from engine.clients.ollama import ChatResult
from engine.clients.searxng import describe_failures, is_blocked_domain
from engine.runs.toolbox import Toolbox

MAX_CONSECUTIVE_TOOL_ERRORS = 3
SEARCH = "searchWeb"
SCRAPE = "scrapeWebsite"
OFFERED_TOOLS = (SEARCH, SCRAPE)
# Characters of each page's text the model gets; links and menus are already taken out.
PAGE_BUDGET = 2500
# A scrape started with less time than this before the deadline cannot finish usefully.
MIN_SCRAPE_SECONDS = 15.0
# After this many generic 500s in a row on different pages, ask whether Crawl4AI itself
# is broken before blaming the pages.
SUSPECT_SCRAPER_AFTER = 2


@dataclass
class StepContext:
    execution: dict[str, Any]
    scout: dict[str, Any]
    tools: Toolbox
    now: datetime
    embedding_dim: int
    # (summary, days ago) of the scout's latest findings, newest first
    earlier_findings: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Outcome:
    trigger: str
    checkpoint: dict[str, Any]
    step: dict[str, Any]
    error: str | None = None
    # for `finish`: what gets stored on the run
    answer: dict[str, Any] | None = None
    summary: str | None = None
    embedding: list[float] | None = None


def step_record(
    step_type: str, description: str, now: datetime, *, input_data: Any = None,
    output_data: Any = None, error: str | None = None,
) -> dict[str, Any]:
    return {
        "step_type": step_type,
        "description": description,
        "input_data": input_data,
        "output_data": output_data,
        "status": "failed" if error else "completed",
        "error_message": error,
        "started_at": now,
        "completed_at": now,
    }


def failure(checkpoint: dict[str, Any], message: str, now: datetime, failed_in: str) -> Outcome:
    checkpoint = {**checkpoint, "failed_in": failed_in}
    return Outcome(
        "fail", checkpoint,
        step_record("analyze", "Run failed", now, error=message), error=message,
    )


def _tool_message(call: dict[str, Any], content: Any) -> dict[str, Any]:
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return {"role": "tool", "tool_name": call["name"], "tool_call_id": call["id"],
            "content": text}


def default_time_range(scout: dict[str, Any]) -> str:
    return "day" if scout.get("frequency") == "daily" else "week"


def _fresh_checkpoint(ctx: StepContext) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system",
             "content": system_prompt(ctx.scout, ctx.earlier_findings, ctx.now)},
            {"role": "user", "content": kickoff_message()},
        ],
        "round": 0,
        "pending": [],
        "searches_done": [],
        "pages_read": [],
        "consecutive_tool_errors": 0,
    }


def copy_checkpoint(value: Any) -> Any:
    """A copy a step may change freely: new dicts and lists all the way down.

    A checkpoint holds only what JSON holds, so this does what `copy.deepcopy` did here
    without its memo and dispatch, which showed in the worker's profile."""
    if isinstance(value, dict):
        return {key: copy_checkpoint(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_checkpoint(item) for item in value]
    if isinstance(value, tuple):
        return tuple(copy_checkpoint(item) for item in value)
    return value


async def plan(ctx: StepContext) -> Outcome:
    cp = copy_checkpoint(ctx.execution["checkpoint"]) or {}
    if not cp.get("messages"):
        cp = _fresh_checkpoint(ctx)
    messages: list[dict[str, Any]] = cp["messages"]
    round_number = cp.get("round", 0) + 1
    if round_number > MAX_ROUNDS:
        return failure(cp, f"the agent used all {MAX_ROUNDS} planning rounds without answering",
                       ctx.now, "planning")
    if round_number > 1 and (round_number - 1) % REMIND_EVERY == 0:
        messages.append({"role": "user", "content": reminder(round_number - 1)})
    last_round = round_number == MAX_ROUNDS
    if last_round:
        messages.append({"role": "user", "content": final_round_message()})
    cp["round"] = round_number

    recovered = False
    try:
        result = await ctx.tools.ollama.chat(messages, tools=None if last_round else TOOLS)
        if not result.tool_calls and not last_round:
            result, recovered = _with_text_calls(result)
    except ToolError as exc:
        # The model produced a tool call we could not even decode: tell it and try again.
        cp["consecutive_tool_errors"] = cp.get("consecutive_tool_errors", 0) + 1
        messages.append({"role": "user", "content": f"Your tool call was malformed: {exc.message}"})
        if cp["consecutive_tool_errors"] >= MAX_CONSECUTIVE_TOOL_ERRORS:
            return failure(cp, f"{MAX_CONSECUTIVE_TOOL_ERRORS} tool calls in a row failed; "
                           f"last: {exc.message}", ctx.now, "planning")
        return Outcome("replan", cp, step_record(
            "analyze", f"Round {round_number}: malformed tool call", ctx.now,
            input_data={"round": round_number}, error=exc.message))

    if not result.tool_calls:
        cp["answer"] = result.content
        cp["pending"] = []
        messages.append(result.assistant_message())
        return Outcome("answer", cp, step_record(
            "analyze", f"Round {round_number}: the agent wrote its answer", ctx.now,
            input_data={"round": round_number}, output_data={"content": result.content[:2000]}))
    if last_round:
        return failure(cp, f"the agent used all {MAX_ROUNDS} planning rounds without answering",
                       ctx.now, "planning")

    messages.append(result.assistant_message())
    pending, problems = _triage_calls(cp, result.tool_calls, default_time_range(ctx.scout),
                                      scout_city(ctx.scout))
    for call, reason, counts_as_error in problems:
        messages.append(_tool_message(call, reason))
        if counts_as_error:
            cp["consecutive_tool_errors"] = cp.get("consecutive_tool_errors", 0) + 1
    cp["pending"] = pending
    requested = [{"tool": c.name, "arguments": c.arguments} for c in result.tool_calls]
    if cp.get("consecutive_tool_errors", 0) >= MAX_CONSECUTIVE_TOOL_ERRORS:
        return failure(cp, f"{MAX_CONSECUTIVE_TOOL_ERRORS} tool calls in a row failed; last: "
                       f"{problems[-1][1]}", ctx.now, "planning")
    searches = sum(1 for p in pending if p["name"] == SEARCH)
    pages = len(pending) - searches
    trigger = "search" if searches else "read" if pages else "replan"
    description = (f"Round {round_number}: {searches} search(es), {pages} page(s) requested"
                   + (f", {len(problems)} call(s) refused" if problems else "")
                   + (" (the model wrote its calls as text)" if recovered else ""))
    output: dict[str, Any] = {
        "tool_calls": requested,
        "refused": [{"tool": c["name"], "reason": r} for c, r, _ in problems]}
    if recovered:
        output["recovered_from_text"] = True
    return Outcome(trigger, cp, step_record(
        "analyze", description, ctx.now, input_data={"round": round_number},
        output_data=output))


def _with_text_calls(result: ChatResult) -> tuple[ChatResult, bool]:
    """The model's answer with tool calls it wrote as text turned into real ones."""
    found = recover_tool_calls(result.content, OFFERED_TOOLS)
    if found is None:
        return result, False
    return dataclasses.replace(result, content=found.text, tool_calls=found.calls), True


def _triage_calls(
    cp: dict[str, Any], calls: list[Any], time_range: str, city: str | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str, bool]]]:
    """Split the model's tool calls into work to do and refusals (reason, is-an-error)."""
    pending: list[dict[str, Any]] = []
    problems: list[tuple[dict[str, Any], str, bool]] = []
    searched = set(cp.get("searches_done", []))
    read = set(cp.get("pages_read", []))
    for call in calls:
        wire = {"id": call.id, "name": call.name, "arguments": call.arguments}
        try:
            if call.name == SEARCH:
                search = search_call(call.arguments, time_range)
                query = with_city(search.query, city)
                key = normalise_query(query)
                if key in searched:
                    problems.append((wire, "You already ran this search; use its results "
                                     "above instead of repeating it.", False))
                    continue
                searched.add(key)
                pending.append({**wire, "arguments": {"query": query,
                                                      "limit": search.limit,
                                                      "time_range": search.time_range}})
            elif call.name == SCRAPE:
                url = scrape_url(call.arguments)
                if url in read:
                    problems.append((wire, "You already read this page.", False))
                    continue
                if is_blocked_domain(url):
                    # A fact about the site, not a mistake: it does not count as an error.
                    problems.append((wire, "Social media sites cannot be read; pick another "
                                     "source.", False))
                    continue
                if len(read) >= MAX_PAGES:
                    problems.append((wire, f"You have read the maximum of {MAX_PAGES} pages; "
                                     "answer with what you have.", False))
                    continue
                read.add(url)
                pending.append({**wire, "arguments": {"url": url}})
            else:
                raise BadToolCall(f"there is no tool named {call.name!r}")
        except BadToolCall as exc:
            problems.append((wire, f"Error: {exc}", True))
    return pending, problems


async def search(ctx: StepContext) -> Outcome:
    cp = copy_checkpoint(ctx.execution["checkpoint"])
    todo = [p for p in cp["pending"] if p["name"] == SEARCH]
    rest = [p for p in cp["pending"] if p["name"] != SEARCH]
    outputs = []
    for call in todo:
        args = call["arguments"]
        try:
            reply = await ctx.tools.searxng.search_reply(
                args["query"], limit=args["limit"], time_range=args["time_range"])
        except ToolError as exc:
            cp["consecutive_tool_errors"] = cp.get("consecutive_tool_errors", 0) + 1
            cp["messages"].append(_tool_message(call, f"Error: {exc.message}"))
            outputs.append({"query": args["query"], "error": exc.message})
        else:
            cp["consecutive_tool_errors"] = 0
            found = [{"title": r.title, "url": r.url, "description": r.description,
                      "publishedDate": r.published_date} for r in reply.results]
            cp["messages"].append(_tool_message(call, found or "No results."))
            output: dict[str, Any] = {"query": args["query"], "results": found}
            if reply.failed_engines:
                output["failed_engines"] = describe_failures(reply.failed_engines)
            outputs.append(output)
        cp.setdefault("searches_done", []).append(normalise_query(args["query"]))
    cp["pending"] = rest
    step = step_record(
        "search", f"Searched the web for {len(todo)} quer{'y' if len(todo) == 1 else 'ies'}",
        ctx.now, input_data={"queries": [c["arguments"] for c in todo]}, output_data=outputs)
    if cp["consecutive_tool_errors"] >= MAX_CONSECUTIVE_TOOL_ERRORS:
        return failure(cp, f"{MAX_CONSECUTIVE_TOOL_ERRORS} tool calls in a row failed",
                       ctx.now, "searching")
    return Outcome("read_next" if rest else "searched", cp, step)


async def read(ctx: StepContext) -> Outcome:
    cp = copy_checkpoint(ctx.execution["checkpoint"])
    todo = [p for p in cp["pending"] if p["name"] == SCRAPE]
    outputs = []
    started = time.monotonic()
    deadline = ctx.execution.get("deadline_at")
    for call in todo:
        url = call["arguments"]["url"]
        time_left = None if deadline is None else (
            (deadline - ctx.now).total_seconds() - (time.monotonic() - started))
        if time_left is not None and time_left < MIN_SCRAPE_SECONDS:
            cp["messages"].append(_tool_message(
                call, "Not read: the run is almost out of time; answer with what you have."))
            outputs.append({"url": url, "skipped": "out of time"})
            cp.setdefault("pages_read", []).append(url)
            continue
        try:
            page = await ctx.tools.crawl4ai.scrape(url, max_chars=PAGE_BUDGET,
                                                   time_left=time_left)
        except BlockedURL as exc:
            # The address may not be read: something for the model to learn, not a failure.
            cp["messages"].append(_tool_message(call, f"Not read: {exc.message}"))
            outputs.append({"url": url, "refused": exc.message})
        except ToolError as exc:
            if isinstance(exc, PageFailed):
                await _check_scraper(ctx, cp, url)
            else:
                cp["scrape_500s"] = []
            cp["consecutive_tool_errors"] = cp.get("consecutive_tool_errors", 0) + 1
            cp["messages"].append(_tool_message(call, f"Error: {exc.message}"))
            outputs.append({"url": url, "error": exc.message})
        else:
            cp["consecutive_tool_errors"] = 0
            cp["scrape_500s"] = []
            cp["messages"].append(_tool_message(
                call, {"url": page.url, "title": page.title, "markdown": page.markdown}))
            outputs.append({"url": url, "title": page.title, "chars": len(page.markdown)})
        cp.setdefault("pages_read", []).append(url)
    cp["pending"] = []
    step = step_record(
        "scrape", f"Read {len(todo)} page{'s' if len(todo) != 1 else ''}", ctx.now,
        input_data={"urls": [c["arguments"]["url"] for c in todo]}, output_data=outputs)
    if cp["consecutive_tool_errors"] >= MAX_CONSECUTIVE_TOOL_ERRORS:
        return failure(cp, f"{MAX_CONSECUTIVE_TOOL_ERRORS} tool calls in a row failed",
                       ctx.now, "reading")
    return Outcome("pages_read", cp, step)


async def _check_scraper(ctx: StepContext, cp: dict[str, Any], url: str) -> None:
    """Several pages in a row failing with Crawl4AI's generic 500 may mean Crawl4AI is
    broken rather than the pages: when its health says so, the run waits (ServiceBusy) and
    reads the same pages again later, instead of failing on pages that were never bad."""
    streak = [u for u in cp.get("scrape_500s", []) if u != url] + [url]
    cp["scrape_500s"] = streak
    if len(streak) < SUSPECT_SCRAPER_AFTER:
        return
    health = await ctx.tools.crawl4ai.health(streak)
    if not health.ok:
        raise ServiceBusy(
            "crawl4ai",
            f"Crawl4AI failed on {len(streak)} pages in a row and is unwell: {health.detail}",
            hint="the page reader is not working (its browser is down)",
        )


async def summarize(ctx: StepContext) -> Outcome:
    cp = ctx.execution["checkpoint"]
    answer = parse_answer(cp.get("answer") or "")
    summary = embedding = None
    if answer["taskCompleted"]:
        reply = await ctx.tools.ollama.chat(summary_messages(answer["response"]))
        summary = clean_summary(reply.content) or clean_summary(answer["response"])
        embedding = (await ctx.tools.ollama.embed([summary]))[0]
        if len(embedding) != ctx.embedding_dim:
            raise ServiceError(
                "ollama",
                f"the embedding model returned {len(embedding)} numbers but EMBEDDING_DIM is "
                f"{ctx.embedding_dim}; set EMBEDDING_DIM to match the model and run "
                "`scouts reembed`",
            )
    step = step_record(
        "summarize", "Wrote the report" if answer["taskCompleted"] else
        f"Nothing new to report ({answer['taskStatus']})", ctx.now,
        output_data={"taskStatus": answer["taskStatus"], "summary": summary})
    return Outcome("finish", cp, step, answer=answer, summary=summary, embedding=embedding)


STEPS: dict[str, Callable[[StepContext], Awaitable[Outcome]]] = {
    "planning": plan,
    "searching": search,
    "reading": read,
    "summarizing": summarize,
}
