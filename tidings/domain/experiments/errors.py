"""Bad input for a measurement, naming the field (``variants[1].exposed``, ``kpis[0].targets.3m``, ``to``)."""

from __future__ import annotations


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message

    @property
    def loc(self) -> list[str]:
        """The field as a path: ``variants[1].exposed`` -> ``["variants", "1", "exposed"]``."""
        return [p for p in self.field.replace("[", ".").replace("]", "").split(".") if p]
