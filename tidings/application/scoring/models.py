"""Scoring models as documents: validate, publish (a new version when the text changed), list, pause."""

from __future__ import annotations

from dataclasses import dataclass

from tidings.application.ports.clock import Clock
from tidings.application.ports.scoring import ScoringRepository, ScoringUnitOfWork
from tidings.domain.scoring.model import ScoringModel, parse_scoring_model
from tidings.domain.scoring.records import StoredModel

#: parsed documents by their text (ids repeat across databases: a test run, a second tenant)
_PARSED: dict[str, ScoringModel] = {}


class UnknownModel(LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no scoring model {key!r}")
        self.key = key


@dataclass(frozen=True, slots=True)
class LiveModel:
    stored: StoredModel
    model: ScoringModel


def parsed(stored: StoredModel) -> ScoringModel:
    """The stored document as a model (parsed once per version)."""
    model = _PARSED.get(stored.document)
    if model is None:
        if len(_PARSED) > 256:
            _PARSED.clear()
        model = _PARSED[stored.document] = parse_scoring_model(stored.document)
    return model


def active_models(repo: ScoringRepository) -> list[LiveModel]:
    return [LiveModel(s, parsed(s)) for s in repo.models(active_only=True)]


def validate_model(text: str) -> ScoringModel:
    """Raises ``ScoringError`` listing every problem with its line and rule id."""
    return parse_scoring_model(text)


def publish_model(uow: ScoringUnitOfWork, clock: Clock, text: str) -> StoredModel:
    model = parse_scoring_model(text)
    with uow:
        stored = uow.scoring.save_model(model.key, model.name, text, clock.now())
        uow.commit()
    return stored


def set_model_active(uow: ScoringUnitOfWork, clock: Clock, key: str, active: bool) -> StoredModel:
    with uow:
        if not uow.scoring.set_active(key, active, clock.now()):
            raise UnknownModel(key)
        stored = uow.scoring.model(key)
        uow.commit()
    assert stored is not None
    return stored


def get_model(uow: ScoringUnitOfWork, key: str) -> StoredModel:
    with uow:
        stored = uow.scoring.model(key)
    if stored is None:
        raise UnknownModel(key)
    return stored


def list_models(uow: ScoringUnitOfWork) -> list[StoredModel]:
    with uow:
        return uow.scoring.models()
