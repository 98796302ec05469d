"""Attribution models: how one conversion's credit is shared among the touches before it.

A touch is a human click on a message (``(at, key)``; the key names what gets the credit, e.g. a
message id). Only touches in ``[conversion - window, conversion]`` count. Each model returns
key -> share of the credit; shares sum to 1 (or the result is empty when nothing qualifies).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

MODELS: tuple[str, ...] = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
#: time decay: a touch this long before the conversion gets half the weight of one at the conversion.
HALF_LIFE = timedelta(days=7)
#: position based: the first and the last touch get this share each, the middle ones share the rest.
ENDS_SHARE = 0.4


class UnknownModel(ValueError):
    def __init__(self, model: str) -> None:
        super().__init__(f"unknown attribution model {model!r}: one of {', '.join(MODELS)}")
        self.model = model


def _add(out: dict[K, float], key: K, share: float) -> None:
    out[key] = out.get(key, 0.0) + share


def attribute(
    model: str,
    touches: Sequence[tuple[datetime, K]],
    at: datetime,
    window: timedelta,
    *,
    half_life: timedelta = HALF_LIFE,
) -> dict[K, float]:
    """The shares of a conversion at ``at`` under ``model``, from ``touches`` (any order)."""
    if model not in MODELS:
        raise UnknownModel(model)
    qualifying = sorted((t for t in touches if at - window <= t[0] <= at), key=lambda t: t[0])
    out: dict[K, float] = {}
    n = len(qualifying)
    if n == 0:
        return out
    if model == "first_touch":
        _add(out, qualifying[0][1], 1.0)
    elif model == "last_touch":
        _add(out, qualifying[-1][1], 1.0)
    elif model == "linear":
        for _, key in qualifying:
            _add(out, key, 1.0 / n)
    elif model == "time_decay":
        weights = [0.5 ** ((at - when) / half_life) for when, _ in qualifying]
        total = sum(weights)
        for (_, key), w in zip(qualifying, weights, strict=True):
            _add(out, key, w / total)
    else:  # position_based
        if n == 1:
            _add(out, qualifying[0][1], 1.0)
        elif n == 2:
            _add(out, qualifying[0][1], 0.5)
            _add(out, qualifying[1][1], 0.5)
        else:
            _add(out, qualifying[0][1], ENDS_SHARE)
            _add(out, qualifying[-1][1], ENDS_SHARE)
            middle = (1.0 - 2 * ENDS_SHARE) / (n - 2)
            for _, key in qualifying[1:-1]:
                _add(out, key, middle)
    return out
