"""Which provider serves which channel: built once from settings by ``build_registry``.

Each channel module exposes ``build_provider(container) -> ChannelProvider | None`` (None when
the channel is not configured); the registry imports the modules listed in ``FACTORIES`` and
skips those not written yet, so a channel is added by writing its module and one line here.
The task channel is the application's own (``application/sales/task_channel.py``): it is named
here by string only, so this adapter does not import the application.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from tidings.application.ports.senders import ChannelProvider

if TYPE_CHECKING:
    from tidings.application.ports.wiring import Wiring

log = logging.getLogger("tidings.channels")

#: channel -> "module:function" building its provider from the container.
FACTORIES: dict[str, str] = {
    "email": "tidings.channels.email:build_provider",
    "sms": "tidings.channels.sms:build_provider",
    "voice": "tidings.channels.voice:build_provider",
    "direct_mail": "tidings.channels.direct_mail:build_provider",
    "webhook": "tidings.channels.webhooks:build_provider",
    "task": "tidings.application.sales.task_channel:build_provider",
    "crm": "tidings.application.crm.handoff:build_provider",
}


class UnknownChannel(LookupError):
    pass


class ChannelRegistry:
    """channel name -> provider."""

    def __init__(self, providers: dict[str, ChannelProvider] | None = None) -> None:
        self._providers: dict[str, ChannelProvider] = dict(providers or {})

    def register(self, provider: ChannelProvider) -> None:
        self._providers[provider.channel] = provider

    def get(self, channel: str) -> ChannelProvider:
        try:
            return self._providers[channel]
        except KeyError:
            raise UnknownChannel(f"no provider configured for channel {channel!r}") from None

    def __contains__(self, channel: object) -> bool:
        return channel in self._providers

    def channels(self) -> list[str]:
        return sorted(self._providers)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            try:
                await provider.aclose()
            except Exception:  # closing one must not keep the others open
                log.exception("closing provider %s failed", provider.name)


def build_registry(container: Wiring) -> ChannelRegistry:
    """Every configured channel's provider (real one when configured, else its local sink)."""
    registry = ChannelRegistry()
    for channel, target in FACTORIES.items():
        module_name, _, func_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that channel is not written (yet)
                continue
            raise
        provider = getattr(module, func_name)(container)
        if provider is not None:
            registry.register(provider)
            log.debug("channel %s -> %s", channel, provider.name)
    return registry
