"""The web view's template filters: the record worded for a reader (``service/wording.py``),
plus what only a page needs (an event's data values, a bar's width)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint

from domain.forces import FORCES
from service.event_sentences import sentence_of
from service.wording import (
    MONEY_FIELDS,
    SHARE_FIELDS,
    SHARE_MAPS,
    WORDS,
    amount_in,
    event_words,
    force_name,
    money,
    percent,
    plain,
    pounds,
    shares,
    stage_name,
    when,
)


def datum(value: Any, key: str | None = None) -> str:
    """An event's data value for reading, by its field (``key``): money in pounds, a share or rate
    as a percentage, a force by its name, a map of shares as percentages, an empty map or list
    as "none", other nested values as compact JSON (the API has them as recorded). Text people
    wrote is shown as written."""
    if value is None:
        return "—"
    if isinstance(value, dict | list) and not value:
        return "none"
    if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
        return _scalar(value, key)
    if isinstance(value, list) and all(isinstance(item, str) and item in FORCES for item in value):
        return ", ".join(force_name(item) for item in value)
    if isinstance(value, dict) and (key in SHARE_MAPS or _share_map(value)):
        return shares(value)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def patch_value(value: Any, path: str | None = None) -> str:
    """A value a change replaced or set, for reading: a record as its fields ("amount: £1.00;
    paid on: 2020-04-30"), read as ``datum`` reads an event's, the field named by the JSON
    Pointer ``path`` (its last name, or the map a share is a key of)."""
    key = _field_of(path)
    if isinstance(value, dict) and value and not (key in SHARE_MAPS or _share_map(value)):
        return "; ".join(
            f"{str(name).replace('_', ' ')}: {patch_value(inner, str(name))}" for name, inner in value.items()
        )
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return " | ".join(patch_value(item) for item in value)
    return datum(value, key)


def _field_of(path: str | None) -> str | None:
    """The field a JSON Pointer (or a bare name) ends at: "/exit_terms/0/stranded_cost_rate" is
    "stranded_cost_rate"; "/apportionments/0/shares/essex" is a share ("share")."""
    if not path:
        return None
    names = [name for name in path.strip("/").split("/") if name and not name.isdigit()]
    if len(names) >= 2 and names[-2] in SHARE_MAPS:
        return "share"
    if len(names) >= 2 and names[-2] == "caps":
        return "amount"
    return names[-1] if names else None


def _scalar(value: Any, key: str | None) -> str:
    if key in MONEY_FIELDS:
        return pounds(value)
    if key in SHARE_FIELDS:
        return percent(value)
    text = str(value)
    if text in FORCES:
        return force_name(text)
    return plain(text) if text in WORDS else text


def _all_shares(values: Any) -> bool:
    try:
        return all(Decimal(0) <= Decimal(str(value)) <= Decimal(1) for value in values)
    except (InvalidOperation, TypeError):
        return False


def _share_map(value: dict[str, Any]) -> bool:
    return bool(value) and all(key in FORCES for key in value) and _all_shares(value.values())


def percent_width(value: Any) -> str:
    """A bar's width: the percentage clamped to 0..100 (display only)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError):
        return "0"
    return str(max(Decimal(0), min(Decimal(100), amount)).quantize(Decimal("0.1")))


FILTERS = {
    "money": money,
    "pounds": pounds,
    "amount_in": amount_in,
    "force_name": force_name,
    "shares": shares,
    "when": when,
    "datum": datum,
    "percent_width": percent_width,
    "plain": plain,
    "stage_name": stage_name,
    "event_words": event_words,
    "sentence": sentence_of,
    "patch_value": patch_value,
}


def register_wording(blueprint: Blueprint) -> None:
    """Makes the filters available to every template of the app the blueprint is registered on."""
    for name, function in FILTERS.items():
        blueprint.add_app_template_filter(function, name)
