"""The journey version diff as sentences: names, triggers, steps added / removed / changed /
reordered, settings."""

from __future__ import annotations

from tidings.domain.journeys.docdiff import changes

OLD = {
    "key": "welcome",
    "name": "Welcome",
    "triggers": [{"event": "signed_up"}],
    "steps": [
        {"id": "hello", "type": "send", "template": "hi"},
        {"id": "nap", "type": "wait", "duration": "1d"},
        {"id": "bye", "type": "send", "template": "bye"},
    ],
    "settings": {"reentry": "never"},
}


def _said(old, new) -> list[tuple[str, dict]]:
    return [(p.message, dict(p.values)) for p in changes(old, new)]


def test_no_change_says_nothing() -> None:
    assert changes(OLD, OLD) == []


def test_every_kind_of_change_is_said() -> None:
    new = {
        **OLD,
        "name": "Welcome series",
        "triggers": [{"event": "subscribed"}],
        "steps": [
            {"id": "nap", "type": "wait", "duration": "2d"},
            {"id": "hello", "type": "send", "template": "hi"},
            {"id": "tag", "type": "update_contact", "add_tags": ["welcomed"]},
        ],
        "settings": {"reentry": "always"},
    }
    said = _said(OLD, new)
    assert said == [
        ("Renamed from %(old)s to %(new)s", {"old": "Welcome", "new": "Welcome series"}),
        ("New trigger: %(trigger)s", {"trigger": "event: subscribed"}),
        ("Trigger removed: %(trigger)s", {"trigger": "event: signed_up"}),
        ("New step %(step)s (%(type)s)", {"step": "tag", "type": "update_contact"}),
        ("Step %(step)s (%(type)s) removed", {"step": "bye", "type": "send"}),
        ("Step %(step)s changed: %(fields)s", {"step": "nap", "fields": "duration"}),
        ("Steps reordered: %(order)s", {"order": "nap → hello"}),
        ("Setting %(setting)s changed", {"setting": "reentry"}),
    ]
    for message, values in said:
        assert "%(" not in message % values


def test_documents_that_are_not_journeys_do_not_break_it() -> None:
    assert changes({}, {"steps": "nonsense", "triggers": 3, "settings": []}) == []
