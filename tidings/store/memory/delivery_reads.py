"""In-memory twin of ``SqlDeliveryReads`` (``store/delivery_loop_sql.py``): the ``DeliveryReads``
port, what a claimed batch is checked and rendered against in ``channels/prepare.py``."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from tidings.domain.templates import TemplateSource, best_variant, locale_candidates
from tidings.store.memory.feedback import MemoryFeedback
from tidings.store.memory.records import MemoryTemplates
from tidings.store.memory.state import MemoryStore

#: the contact columns a message is rendered with
CONTACT_FIELDS = (
    "id", "external_id", "email", "phone", "first_name", "last_name", "timezone", "locale", "attributes",
    "lifecycle_stage", "owner", "score",
)  # fmt: skip
CONSENT_FIELDS = ("contact_id", "channel", "status", "topics", "paused_until")


class MemoryDeliveryReads:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        #: sending domains paused for bounce rates (``channels/bounces.py``).
        self.feedback = MemoryFeedback(store)

    def contacts(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        rows = self.store.state.contacts
        return {i: {k: copy.deepcopy(rows[i].get(k)) for k in CONTACT_FIELDS} for i in set(ids) if i in rows}

    def consents(self, ids: Sequence[int]) -> dict[tuple[int, str], dict[str, Any]]:
        wanted = set(ids)
        return {
            key: {k: copy.deepcopy(row.get(k)) for k in CONSENT_FIELDS}
            for key, row in self.store.state.consents.items()
            if key[0] in wanted
        }

    def tags(self, ids: Sequence[int]) -> dict[int, list[str]]:
        tags = self.store.state.contact_tags
        return {i: list(tags[i]) for i in set(ids) if tags.get(i)}

    def suppressed(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        listed = {(channel, address.lower()) for channel, address in self.store.state.suppressions}
        return listed & pairs

    def template(self, key: str, locale: str) -> TemplateSource | None:
        return best_variant(MemoryTemplates(self.store).variants(key, locale_candidates(locale)), locale)
