"""Journey documents the tests share: one welcome email, then a wait (web pages, analytics,
control groups differ only in the trigger, the settings and what follows the wait)."""

from __future__ import annotations


def send_then_wait(
    key: str,
    event: str,
    wait: str,
    *,
    name: str | None = None,
    wait_id: str = "nap",
    settings: str = "",
    then: str = "",
) -> str:
    """``key`` triggered by ``event``: send template ``welcome`` (step ``hello``) by email, then
    wait ``wait`` (step ``wait_id``); ``settings`` (indented lines) and further steps ``then``
    are added as given."""
    head = f"key: {key}\n" + (f"name: {name}\n" if name else "")
    body = f"triggers:\n  - event: {event}\n" + (f"settings:\n{settings}" if settings else "")
    steps = (
        "steps:\n  - id: hello\n    type: send\n    channel: email\n    template: welcome\n"
        f"  - id: {wait_id}\n    type: wait\n    duration: {wait}\n"
    )
    return head + body + steps + then
