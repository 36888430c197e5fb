"""The execution state machine: the one definition of states and legal transitions.

The runner asks this machine whether a transition is legal before persisting it, and
diagrams/execution-states.md is generated from it (`scouts diagram`), so the picture and
the behaviour cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from transitions import Machine

ENGINE_VERSION = 1

STATES = ["planning", "searching", "reading", "summarizing", "done", "failed"]
WORKING_STATES = ["planning", "searching", "reading", "summarizing"]
FINAL_STATES = ["done", "failed"]

# trigger, source(s), destination, what it means (used in the diagram)
TRANSITIONS: list[tuple[str, str | list[str], str, str]] = [
    ("search", "planning", "searching", "model asked for web searches"),
    ("read", "planning", "reading", "model asked to read pages"),
    ("replan", "planning", "planning", "every tool call was refused; ask again"),
    ("answer", "planning", "summarizing", "model gave its final answer"),
    ("searched", "searching", "planning", "results added to the conversation"),
    ("read_next", "searching", "reading", "pages requested in the same turn"),
    ("pages_read", "reading", "planning", "page text added to the conversation"),
    ("finish", "summarizing", "done", "report stored, owner notified if new"),
    ("fail", WORKING_STATES, "failed", "limit exceeded, unrecoverable error, deadline or cancel"),
]


class IllegalTransition(Exception):
    pass


@dataclass
class RunState:
    """The model object `transitions` drives; only the state lives on it."""

    state: str


def _machine(model: RunState) -> Machine:
    return Machine(
        model=model,
        states=STATES,
        transitions=[
            {"trigger": trigger, "source": source, "dest": dest}
            for trigger, source, dest, _ in TRANSITIONS
        ],
        initial=model.state,
        auto_transitions=False,
        send_event=False,
    )


def _transition_table() -> dict[tuple[str, str], str]:
    """(state, trigger) -> destination, read off the declared machine once at import:
    building a `Machine` per call cost more than the rest of a transition's Python work."""
    machine = _machine(RunState(STATES[0]))
    table: dict[tuple[str, str], str] = {}
    for trigger in machine.get_triggers(*STATES):
        for state in STATES:
            for transition in machine.get_transitions(trigger=trigger, source=state):
                table[(state, trigger)] = transition.dest or state
    return table


NEXT_STATE = _transition_table()


def next_state(current: str, trigger: str) -> str:
    """The state ``trigger`` leads to from ``current``; IllegalTransition if it may not."""
    try:
        return NEXT_STATE[(current, trigger)]
    except KeyError:
        raise IllegalTransition(f"cannot {trigger!r} from {current!r}") from None


def mermaid_diagram() -> str:
    lines = ["stateDiagram-v2", "    [*] --> planning"]
    for trigger, source, dest, _meaning in TRANSITIONS:
        for src in [source] if isinstance(source, str) else source:
            lines.append(f"    {src} --> {dest}: {trigger}")
    lines += ["    done --> [*]", "    failed --> [*]"]
    return "\n".join(lines)


def diagram_document() -> str:
    legend = "\n".join(
        f"| `{trigger}` | {source if isinstance(source, str) else ', '.join(source)} "
        f"| {dest} | {meaning} |"
        for trigger, source, dest, meaning in TRANSITIONS
    )
    return (
        "# Execution state machine\n\n"
        "Generated from `engine/runs/machine.py` by `scouts diagram`; a test fails when this file "
        "is stale.\n\n```mermaid\n"
        f"{mermaid_diagram()}\n```\n\n"
        "| trigger | from | to | meaning |\n|---|---|---|---|\n"
        f"{legend}\n"
    )
