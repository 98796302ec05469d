"""What runs beside the API: the worker (events, timers), the delivery loop, the local sinks.

`tidings serve` runs all of them in one process (embedded default); `tidings serve --no-worker`
runs only the API; `tidings worker` runs only the worker and delivery loops.
"""

from __future__ import annotations

import logging

from tidings.bootstrap import BackgroundService, Container

log = logging.getLogger("tidings.runtime")


def background_services(container: Container, *, worker: bool, catcher: bool) -> list[BackgroundService]:
    services: list[BackgroundService] = []
    if catcher:
        from tidings.channels.catcher import catcher_service

        services.append(catcher_service(container))
    if worker:
        # events and timers -> segments and journey transitions (issue: journey engine)
        from tidings.worker import worker_services

        services.extend(worker_services(container))
        # time-relative segments slide with time alone (issue: segments)
        from tidings.application.segments.segment_refresher import segment_refresh_service

        services.append(segment_refresh_service(container))
        # outbox -> channel providers (issue: channels)
        from tidings.channels.delivery import delivery_service

        services.append(delivery_service(container))
    return services


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
