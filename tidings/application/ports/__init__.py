"""Ports: the interfaces (``typing.Protocol``) the use cases own and the adapters implement.

One module per port group. Storage follows one transaction convention, the unit of work
(``uow.py``): ``with uow: ...; uow.commit()`` — leaving the block without ``commit()`` rolls
back. Each capability declares the small unit of work it needs (``AccessUnitOfWork``,
``TemplatesUnitOfWork``...): a Protocol listing only the repositories its use cases touch.
The SQL adapter (``tidings/store/sql_uow.py``) and the in-memory one (``tidings/store/memory``)
implement all of them and pass one contract suite (``tests/contract``).
"""
