"""Ports: the `typing.Protocol` interfaces the application owns and the adapters implement.

Use cases depend on these (repositories, unit of work, clock, senders, id generator), never on
a concrete adapter; `tidings.store`, `tidings.channels` and the in-memory fakes implement them.
"""
