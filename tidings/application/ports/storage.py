"""Every capability's unit of work in one Protocol: what the composition root hands out.

Use cases name the small unit of work of their capability (``AccessUnitOfWork``...); an adapter
that serves several of them (the task channel, recipes) takes this one.
"""

from __future__ import annotations

from typing import Protocol

from tidings.application.ports.access import AccessUnitOfWork
from tidings.application.ports.campaigns import CampaignsUnitOfWork
from tidings.application.ports.contacts import ContactsUnitOfWork, PreferencesUnitOfWork, SmsKeywordsUnitOfWork
from tidings.application.ports.content import TemplatesUnitOfWork
from tidings.application.ports.delivery import DeadLettersUnitOfWork
from tidings.application.ports.journeys import JourneysUnitOfWork
from tidings.application.ports.plan import PlanUnitOfWork
from tidings.application.ports.sales import SalesUnitOfWork
from tidings.application.ports.segments import SegmentsUnitOfWork


class StorageUnitOfWork(
    ContactsUnitOfWork,
    AccessUnitOfWork,
    TemplatesUnitOfWork,
    DeadLettersUnitOfWork,
    SalesUnitOfWork,
    JourneysUnitOfWork,
    PreferencesUnitOfWork,
    SmsKeywordsUnitOfWork,
    CampaignsUnitOfWork,
    PlanUnitOfWork,
    SegmentsUnitOfWork,
    Protocol,
):
    """A unit of work over all the repositories (``store/sql_uow.py``, ``store/memory``)."""
