"""Registry of the CLI command groups kept in their own modules.

Add a group: write ``tidings/cli/<name>.py`` exposing ``app = typer.Typer(...)`` (or a
``register(app)`` function for top-level commands), then list it here.
"""

from __future__ import annotations

import importlib

import typer

#: (module, group name or None for top-level commands registered by the module itself)
GROUPS: list[tuple[str, str | None]] = [
    ("tidings.cli.segments", "segments"),
    ("tidings.cli.journeys", "journeys"),
    ("tidings.cli.why", None),
    ("tidings.cli.templates", "templates"),
    ("tidings.cli.simulate", None),
    ("tidings.cli.contacts", "contacts"),
    ("tidings.cli.imports", None),
    ("tidings.cli.demo", None),
    ("tidings.cli.users", "users"),
    ("tidings.cli.dead_letters", "dead-letters"),
    ("tidings.cli.messages", "messages"),
    ("tidings.cli.tasks", "tasks"),
    ("tidings.cli.direct_mail", "direct-mail"),
    ("tidings.cli.bounces", "bounces"),
    ("tidings.cli.recipes", "recipes"),
    ("tidings.cli.experiments", "experiments"),
    ("tidings.cli.goals", "goals"),
    ("tidings.cli.campaigns", "campaigns"),
    ("tidings.cli.scoring", "scoring"),
    ("tidings.cli.control", None),
    ("tidings.cli.audit", None),
    ("tidings.cli.report", None),
    ("tidings.cli.sources", "sources"),
    ("tidings.cli.retention", "retention"),
    ("tidings.cli.partitions", "partitions"),
    ("tidings.cli.audiences", "audiences"),
    ("tidings.cli.forms", "forms"),
    ("tidings.cli.plan", "content"),
]


def register(app: typer.Typer) -> None:
    for module_name, group in GROUPS:
        module = importlib.import_module(module_name)
        if group is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=group)
