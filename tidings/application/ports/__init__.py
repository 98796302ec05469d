"""Ports: the `typing.Protocol` interfaces the application owns and the adapters implement.

Use cases depend on these (repositories, unit of work, clock, senders, id generator), never on
a concrete adapter; `tidings.store`, `tidings.channels` and the in-memory fakes implement them.

One module per port group. Storage follows one transaction convention, the unit of work
(``uow.py``): ``with uow: ...; uow.commit()`` — leaving the block without ``commit()`` rolls
back. Each capability declares the small unit of work it needs (``AccessUnitOfWork``,
``TemplatesUnitOfWork``...): a Protocol listing only the repositories its use cases touch.
The SQL adapter (``tidings/store/sql_uow.py``) and the in-memory one (``tidings/store/memory``)
implement all of them and pass one contract suite (``tests/contract``).
"""
