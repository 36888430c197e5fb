"""`scripts/bench [NAME ...]`: run the benchmarks, print each figure next to its goal, and
write the same table into docs/benchmarks.md.

A benchmark is a module in bench/ with a ``main()`` that returns a list of
`bench.common.Result` rows (or None when it prints its own report). Adding one is one line
in BENCHMARKS below.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, Result, table

BENCHMARKS = {
    "api": "bench.api",
    "worker": "bench.worker",
    "dispatch": "bench.dispatch",
    "live": "bench.live",
    "findings": "bench.findings",
}

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:{name}:begin -->", "<!-- bench:{name}:end -->"


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    return (f"{os.cpu_count()} cores {model}".strip()
            + f", Python {platform.python_version()}, {platform.system()} {platform.release()}")


def write_doc(name: str, rows: list[Result], stamp: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (others stay as they were)."""
    begin, end = BEGIN.format(name=name), END.format(name=name)
    section = f"{begin}\n### {name}\n\n{stamp}\n\n{table(rows)}\n{end}"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], metavar="NAME",
                        help=f"some of: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    failed = False
    for name in args.names or list(BENCHMARKS):
        print(f"== {name}", flush=True)
        run = importlib.import_module(BENCHMARKS[name]).main
        # Modules with options of their own (findings, live) run with their defaults here;
        # `python -m bench.NAME --help` lists those options.
        rows = run([]) if run.__code__.co_argcount else run()
        if not rows:
            continue
        load = os.getloadavg()[0]
        stamp = (f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; load average "
                 f"{load:.1f} when it ended (other work shares the machine: compare rows of "
                 "the same run).")
        print(table(rows), flush=True)
        failed |= any(r.ok is False for r in rows)
        if not args.no_doc:
            write_doc(name, rows, stamp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
