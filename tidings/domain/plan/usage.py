"""Which journeys' send steps use which templates (pure: documents in, uses out)."""

from __future__ import annotations

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
