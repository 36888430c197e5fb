"""What the model gets to read, and what it costs to prepare.

    .venv/bin/python -m bench.bench_agent_inputs

1. A navigation-heavy news page as Crawl4AI renders it (menu, article, footer; the fake's
   builder in tests/fakes): how much of the article reaches the model with the old choice
   (raw_markdown first, first 2,000 characters) and with the current one (fit_markdown,
   links and menus out, 2,500 characters).
2. The time to clean a large page and to look for tool calls written as text; both run on
   the event loop inside a step, so they must stay far below a millisecond-scale budget.
"""

from __future__ import annotations

import json
import time

from engine.agent.page_text import readable_text, trim_text
from engine.agent.textcalls import recover_tool_calls
from tests.fakes.fake_crawl4ai import footer, navigation

ARTICLE = " ".join(
    f"Sentence {i} of the article says something about the Spice Route opening in Denver."
    for i in range(12)
)


def article_share(text: str) -> float:
    sentences = [s for s in ARTICLE.split(".") if s.strip()]
    return sum(1 for s in sentences if s.strip() in text) / len(sentences)


def timed(fn: object, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    site = "news.example"
    raw = f"{navigation(site)}\n\n# Spice Route opens\n\n{ARTICLE}\n\n{footer(site)}"
    fit = f"# Spice Route opens\n\n{ARTICLE}"
    old = trim_text(raw, 2000)
    new = trim_text(readable_text(fit, 2500), 2500)
    raw_only = trim_text(readable_text(raw, 2500), 2500)
    print(f"article starts at character {raw.index('Sentence 0')} of raw_markdown "
          f"({len(raw)} characters); the article is {len(ARTICLE)} characters")
    print(f"old (raw_markdown, 2,000 chars):        {article_share(old):4.0%} of the article's "
          "sentences")
    print(f"new (fit_markdown cleaned, 2,500):      {article_share(new):4.0%}")
    print(f"new, fallback (raw_markdown cleaned):   {article_share(raw_only):4.0%}")

    big = "\n".join([raw] * 40)  # about 200 KB of markdown
    print(f"readable_text on {len(big) // 1000} KB: whole page "
          f"{timed(lambda: readable_text(big), 20):.2f} ms, as the client calls it (stops "
          f"at the 2,500-character budget) {timed(lambda: readable_text(big, 2500), 20):.2f} ms")
    call = json.dumps({"name": "searchWeb", "arguments": {"query": "Spice Route Denver"}})
    answer = json.dumps({"taskCompleted": True, "taskStatus": "completed",
                         "response": "## Found\n\n" + ARTICLE * 4})
    offered = ("searchWeb", "scrapeWebsite")
    print(f"recover_tool_calls, bare call: "
          f"{timed(lambda: recover_tool_calls(call, offered), 2000) * 1000:.1f} µs; "
          f"JSON final answer ({len(answer)} chars): "
          f"{timed(lambda: recover_tool_calls(answer, offered), 2000) * 1000:.1f} µs")


if __name__ == "__main__":
    main()
