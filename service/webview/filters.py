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
    MONEY_TEXT,
    WORDS,
    amount_in,
    event_words,
    force_name,
    money,
    plain,
    plain_text,
    pounds,
    shares,
    stage_name,
    when,
)


def datum(value: Any) -> str:
    """An event's data value for reading: money-like decimal strings with separators, a force by
    its name, shares as percentages, an empty map or list as "none", other nested values as
    compact JSON (the API has them as recorded)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        if MONEY_TEXT.fullmatch(value):
            return money(value)
        return force_name(value) if value in FORCES else value
    if isinstance(value, dict | list) and not value:
        return "none"
    if isinstance(value, list) and all(isinstance(item, str) and item in FORCES for item in value):
        return ", ".join(force_name(item) for item in value)
    if isinstance(value, dict) and all(key in FORCES for key in value) and _all_shares(value.values()):
        return shares(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return str(value)


def patch_value(value: Any) -> str:
    """A value a change replaced or set, for reading: a record as its fields ("amount: £1.00;
    paid on: 2020-04-30"), a code in words, money in pounds, anything deeper as compact JSON."""
    if isinstance(value, dict) and value and not (all(key in FORCES for key in value) and _all_shares(value.values())):
        return "; ".join(f"{str(key).replace('_', ' ')}: {patch_value(inner)}" for key, inner in value.items())
    if isinstance(value, str):
        if MONEY_TEXT.fullmatch(value):
            return pounds(value)
        return force_name(value) if value in FORCES else plain(value) if value in WORDS else value
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return " | ".join(patch_value(item) for item in value)
    return datum(value)


def _all_shares(values: Any) -> bool:
    try:
        return all(Decimal(0) <= Decimal(str(value)) <= Decimal(1) for value in values)
    except (InvalidOperation, TypeError):
        return False


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
    "plain_text": plain_text,
    "stage_name": stage_name,
    "event_words": event_words,
    "sentence": sentence_of,
    "patch_value": patch_value,
}


def register_wording(blueprint: Blueprint) -> None:
    """Makes the filters available to every template of the app the blueprint is registered on."""
    for name, function in FILTERS.items():
        blueprint.add_app_template_filter(function, name)
