"""Port of the event and message exports: rows read a bounded chunk at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol


class RowReader(Protocol):
    def __call__(
        self, kind: str, fields: Sequence[str], since: datetime | None, until: datetime | None
    ) -> Iterator[list[dict[str, Any]]]:
        """Rows of ``kind`` (events | messages) in ``[since, until)``, ``fields`` only, in id order."""
        ...
