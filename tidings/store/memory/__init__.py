"""The in-memory storage adapter: the same ports as the SQL one, for fast unit tests.

``MemoryStore`` holds the data; ``MemoryUnitOfWork(store)`` is a transaction over it: on
``with`` it takes the store's lock (one writer at a time, as on SQLite) and remembers the data,
``commit()`` keeps what was written, leaving the block without it puts the data back. Rows are
copied in and out, so a caller never holds a reference into the store. It passes the contract
suite of ``tests/contract`` that the SQL adapter passes.
"""

from tidings.store.memory.state import MemoryStore
from tidings.store.memory.uow import MemoryUnitOfWork

__all__ = ["MemoryStore", "MemoryUnitOfWork"]
