"""What runs beside the API: the worker (events, timers), the delivery loop, the local sinks.

`tidings serve` runs all of them in one process (embedded default); `tidings serve --no-worker`
runs only the API; `tidings worker` runs only the worker and delivery loops.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import partial

from tidings.application.campaigns.sending import CampaignSender
from tidings.application.contacts.preferences import UnknownMessage, unsubscribe_message
from tidings.application.ports.wiring import BackgroundService
from tidings.bootstrap import Container
from tidings.channels import tracking
from tidings.channels.base import InboxItem, record_in_inbox
from tidings.channels.catcher import SmtpCatcher
from tidings.channels.registry import ChannelRegistry
from tidings.domain.control.policy import SendPolicy

log = logging.getLogger("tidings.runtime")


def background_services(container: Container, *, worker: bool, catcher: bool) -> list[BackgroundService]:
    services: list[BackgroundService] = []
    if catcher:
        services.append(catcher_service(container))
    if worker:
        # events and timers -> segments and journey transitions (issue: journey engine)
        from tidings.worker import worker_services

        services.extend(worker_services(container))
        # time-relative segments slide with time alone (issue: segments)
        from tidings.application.segments.segment_refresher import SegmentRefresher

        seconds = container.settings.segment_refresh_seconds
        every = timedelta(seconds=seconds) if seconds else None
        services.append(SegmentRefresher(container.segments, container.clock, every=every))
        # experiments with `rollout: true` send everyone to the winner at their review point
        from tidings.application.analytics.reviewer import ExperimentReviewer
        from tidings.store.measurement import SqlAnalyticsStore

        services.append(ExperimentReviewer(partial(SqlAnalyticsStore.writing, container.engine), container.clock))
        # vendor sources: checkouts quiet for their source's period -> Cart Abandoned (issue 17)
        from tidings.application.sources.abandonment import CartAbandoner

        services.append(CartAbandoner(container.intake, container.due_checkouts, container.clock))
        # campaigns: freeze audiences, enqueue their messages in batches, A/B winners (issue: campaigns)
        services.append(campaign_sender(container))
        # lead scores fade with time (decay) and may cross a demotion threshold
        from tidings.application.scoring.decayer import ScoreDecayer

        services.append(ScoreDecayer(container.uow, container.clock, every=container.settings.scoring_decay_seconds))
        # sales tasks overdue past their team's SLA are escalated once (issue 19)
        from tidings.application.sales.escalation import TaskEscalator

        services.append(TaskEscalator(container.uow, container.clock, every=container.settings.task_escalation_seconds))
        # retention policies: old events, traces, outbox and inbox rows, idle anonymous profiles (issue 17)
        from tidings.application.privacy.retention import RetentionRunner
        from tidings.store.retention_sql import retention_sessions

        every_s = container.settings.retention_seconds
        services.append(RetentionRunner(retention_sessions(container.engine), container.clock, every=every_s))
        # forms: double opt-in confirmation emails, the one reminder, expiry (issue 17)
        from tidings.application.forms.confirmations import FormsPass

        services.append(FormsPass(container.uow, container.email_provider, container.form_links, container.clock,
                                  public_url=container.settings.public_url))
        # outbox -> channel providers (issue: channels); recipe checks then see the running ones
        from tidings.channels.delivery import delivery_service

        def show(registry: ChannelRegistry) -> None:
            container.channel_registry = registry

        services.append(delivery_service(container, on_ready=show))
        s = container.settings
        if s.direct_mail_batch_at:  # the daily print batch at a local time (docs/channels.md)
            from tidings.channels.direct_mail import BatchFolder
            from tidings.channels.direct_mail_schedule import DirectMailScheduler

            services.append(DirectMailScheduler(
                BatchFolder(s.direct_mail_dir), container.clock, s.direct_mail_batch_at, s.direct_mail_timezone
            ))
    return services


def campaign_sender(container: Container) -> CampaignSender:
    """The campaign steps of the worker, on the container's database and clock and send policy."""
    from tidings.application.control import policies
    from tidings.store.control import SqlControl

    def policy() -> SendPolicy:
        with container.engine.connect() as conn:
            return policies.load(SqlControl(conn))

    return CampaignSender(
        container.uow, container.clock, policy=policy, default_timezone=container.settings.default_timezone
    )


def start_all(services: list[BackgroundService]) -> None:
    for s in services:
        log.info("starting %s", s.name)
        s.start()


def stop_all(services: list[BackgroundService]) -> None:
    for s in reversed(services):
        try:
            s.stop()
        except Exception:  # keep stopping the others
            log.exception("stopping %s failed", s.name)


_MAILTO_UNSUBSCRIBE = re.compile(r"unsubscribe-([A-Za-z0-9_-]{20,80})")


def mailto_unsubscribe(container: Container, item: InboxItem) -> bool:
    """An email to ``unsubscribe@...`` with the token in its subject (the ``mailto:`` half of
    List-Unsubscribe) unsubscribes like the one-click POST. Bad tokens are ignored."""
    recipients = [r.strip().lower() for r in (item.recipient or "").split(",")]
    if not any(r.startswith("unsubscribe@") for r in recipients):
        return False
    found = _MAILTO_UNSUBSCRIBE.search(item.subject or "")
    if not found:
        return False
    now = container.clock.now()
    try:
        token = tracking.read_token(container.secret_key, found.group(1), tracking.UNSUBSCRIBE, now)
        with container.uow() as uow:
            unsubscribe_message(uow, token.a, now, method="mailto", proof={"from": item.sender})
            uow.commit()
    except (tracking.BadToken, UnknownMessage):
        log.warning("ignored a mailto unsubscribe with a bad token from %s", item.sender)
        return False
    return True


def catcher_service(container: Container) -> SmtpCatcher:
    s = container.settings

    def store(item: InboxItem) -> None:
        record_in_inbox(container.engine, item, container.clock.now())
        mailto_unsubscribe(container, item)

    return SmtpCatcher(s.catcher_host, s.catcher_port, store)
