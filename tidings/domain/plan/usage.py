"""Which journeys' send steps use which templates (pure: documents in, uses out)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.domain.journeys.model import JourneyDoc
from tidings.domain.plan.status import TemplateUse


def template_uses(doc: JourneyDoc, *, published: bool) -> list[TemplateUse]:
    """The send steps of ``doc`` naming a template, in step order."""
    out: list[TemplateUse] = []
    for sid, st in doc.steps.items():
        template = st.config.get("template")
        if st.type == "send" and isinstance(template, str):
            channel = st.config.get("channel")
            out.append(TemplateUse(template, doc.key, sid, channel if isinstance(channel, str) else None, published))
    return out


def document_uses(document: Any, *, published: bool) -> list[TemplateUse]:
    """The same from a published version's stored document (``journey_versions.document``, the
    normalised form validated at publish): no YAML to parse again. Anything not shaped like a send
    step is skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("steps"), list):
        return []
    key = str(document.get("key", ""))
    out: list[TemplateUse] = []
    for st in document["steps"]:
        if isinstance(st, Mapping) and st.get("type") == "send" and isinstance(st.get("template"), str):
            channel = st.get("channel")
            out.append(TemplateUse(st["template"], key, str(st.get("id", "")),
                                   channel if isinstance(channel, str) else None, published))
    return out
