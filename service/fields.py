"""Marshmallow fields for the HTTP contract: money and shares travel as decimal strings and
are never floats, counts are whole JSON integers, dates are ``YYYY-MM-DD``, and every string
obeys the text rule.

These fields check the shape of the JSON only. Whether an amount or a share is acceptable
(sign, precision, range, sum), or a count of months is in range, is the domain's rule, checked
by the domain; the fields only document those ranges. The text rule (no NUL, control
characters or lone surrogates; a length limit per field) is the domain's too
(``domain.values.text_fault``), applied here as well so that every string field of a request
is refused by name before anything runs.

Every JSON array and object a request may carry has a bound (``BoundedList``, ``KeyedBy``):
its length is checked before any of its elements, so an oversized one is refused at once with
one error. The bounds appear in the OpenAPI document as ``maxItems`` and ``maxProperties``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, utils

from domain.forces import FORCES
from domain.values import SHARE_PLACES, text_fault

DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
UNSIGNED_DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
MAX_DECIMAL_LENGTH = 64
# Documented in the OpenAPI document: what a valid (non-negative) amount and share look like.
MONEY_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"
SHARE_PATTERN = rf"^[0-9]+(\.[0-9]{{1,{SHARE_PLACES}}})?$"
INTEGER_TEXT = re.compile(r"-?[0-9]+", re.ASCII)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
RFC3339_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})", re.ASCII
)
CODE_LENGTH = 100  # force codes, kinds, bases, ids, financial years: all far shorter
# No list or map of forces can be longer than the list of forces: 43 (England and Wales).
MAX_FORCES = len(FORCES)


class DecimalString(fields.String):
    """An exact decimal written as a JSON string, e.g. ``"10500000.00"`` or ``"0.69"``.

    JSON numbers are refused: a parser turns them into binary floats before we see them,
    and a float anywhere near money is a bug. Digits are ASCII 0-9 only."""

    what = "a decimal"
    example = "1.00"
    shape = DECIMAL_TEXT

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:  # type: ignore[override]
        if isinstance(value, bool) or not isinstance(value, str):
            if isinstance(value, int | float):
                raise ValidationError(
                    f"{self.what} must be a JSON string such as {self.example!r}, not a JSON number: "
                    "numbers lose exactness, so money and shares are always sent as strings"
                )
            raise ValidationError(f"{self.what} must be a JSON string such as {self.example!r}")
        text = value.strip()
        if len(text) > MAX_DECIMAL_LENGTH:
            raise ValidationError(
                f"{self.what} is at most {MAX_DECIMAL_LENGTH} characters long; write it like {self.example!r}"
            )
        if text.startswith("-") and self.shape is UNSIGNED_DECIMAL_TEXT:
            raise ValidationError(f"{self.what} is never negative, not even -0; write it like {self.example!r}")
        if not self.shape.fullmatch(text):
            raise ValidationError(f"{value!r} is not {self.what}; write it like {self.example!r}")
        return Decimal(text)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format(value, "f")


class MoneyString(DecimalString):
    """An amount in GBP as a string with at most two decimals, e.g. ``"10500000.00"``.

    A minus sign gets through the shape check so that the domain can refuse it by its rule's
    name (``negative-amount``); the documented pattern shows only what is valid."""

    what = "an amount of money"
    example = "10500000.00"

    def __init__(self, **kwargs: Any):
        metadata = {
            "format": "decimal",
            "pattern": MONEY_PATTERN,
            "example": self.example,
            "description": "GBP, at most two decimals, less than 1000000000000000.00",
        }
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)


class ShareString(DecimalString):
    """A share or rate from 0 to 1 as a string, e.g. ``"0.69"``. Never negative, not even ``-0``."""

    what = "a share"
    example = "0.69"
    shape = UNSIGNED_DECIMAL_TEXT

    def __init__(self, **kwargs: Any):
        metadata = {
            "format": "decimal",
            "pattern": SHARE_PATTERN,
            "example": self.example,
            "description": f"From 0 to 1, at most {SHARE_PLACES} decimal places",
        }
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)


class WholeNumber(fields.Integer):
    """A JSON integer: ``12``, never ``12.0``, ``"12"`` or ``true``.

    ``within`` documents the range the domain allows (it is the domain's rule, and the domain
    refuses a number outside it by that rule's name)."""

    def __init__(self, *, within: range | None = None, **kwargs: Any):
        if within is not None:
            kwargs["metadata"] = {"minimum": within.start, "maximum": within[-1], **kwargs.get("metadata", {})}
        super().__init__(strict=True, **kwargs)


class QueryInteger(fields.Integer):
    """A whole number in a query string: ASCII digits, with a minus sign at most. Python's
    ``int()`` would also take ``٣``, ``1_000``, ``+5`` and `` 5 ``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:  # type: ignore[override]
        if not isinstance(value, str) or not INTEGER_TEXT.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class TextRule:
    """The text rule of ``domain.values.text_fault`` as a marshmallow validator; with
    ``blank=False`` the text must also say something."""

    def __init__(self, max_length: int, *, blank: bool):
        self.max_length = max_length
        self.blank = blank

    def __call__(self, value: str | None) -> None:
        if value is None:
            return
        if (fault := text_fault(value, self.max_length)) is not None:
            raise ValidationError(f"{fault}.")
        if not self.blank and not value.strip():
            raise ValidationError("must not be empty.")


class Text(fields.String):
    """A string that obeys the text rule and is at most ``max_length`` characters long.

    Text that must say something (the default) refuses blank or whitespace-only; with
    ``blank=True`` (codes, search terms) blank is passed on as it is."""

    def __init__(self, *, max_length: int, blank: bool = False, **kwargs: Any):
        validators = kwargs.pop("validate", None)
        extra = [validators] if callable(validators) else list(validators or [])
        kwargs["metadata"] = {"maxLength": max_length, **kwargs.get("metadata", {})}
        super().__init__(validate=[TextRule(max_length, blank=blank), *extra], **kwargs)


class OptionalText(Text):
    """Text that may be left out: null, empty or whitespace-only arrives as None."""

    def __init__(self, *, max_length: int, **kwargs: Any):
        kwargs.setdefault("allow_none", True)
        super().__init__(max_length=max_length, blank=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        return text if text.strip() else None


class Code(Text):
    """A short identifier: a force code, a kind, a basis, an id. Whether it names anything
    is the domain's rule; blank is passed on for the domain to refuse by that rule's name."""

    def __init__(self, *, max_length: int = CODE_LENGTH, **kwargs: Any):
        super().__init__(max_length=max_length, blank=True, **kwargs)


class Date(fields.Date):
    """A calendar date written ``YYYY-MM-DD`` and nothing else: not ``20200229``, not
    ``2020-W09-6``, not a timestamp (Python's ``fromisoformat`` would take all of those)."""

    default_error_messages = {"invalid": "Not a valid date: write it YYYY-MM-DD, e.g. 2019-04-01."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Timestamp(fields.AwareDateTime):
    """An RFC 3339 timestamp with its offset, e.g. ``2019-04-01T09:30:00Z``."""

    default_error_messages = {"invalid": "Not a valid timestamp: write it like 2019-04-01T09:30:00Z (RFC 3339)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not RFC3339_TIMESTAMP.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class BoundedList(fields.List):
    """A JSON array of at most ``max_items`` elements (``maxItems`` in the OpenAPI document).

    The length is checked before any element is: an oversized array is refused at once with
    one error, not validated element by element (a 1 MiB body of 349,458 empty claim lines
    once cost a worker 30 s of CPU and a 123 MB problem). Every list a request takes is one."""

    def __init__(self, cls_or_instance: Any, *, max_items: int, **kwargs: Any):
        kwargs["metadata"] = {"maxItems": max_items, **kwargs.get("metadata", {})}
        super().__init__(cls_or_instance, **kwargs)
        self.max_items = max_items

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if utils.is_collection(value) and len(value) > self.max_items:
            raise ValidationError(f"must have at most {self.max_items} items, not {len(value)}.")
        return super()._deserialize(value, attr, data, **kwargs)


class KeyedBy(fields.Dict):
    """A JSON object keyed by a code (a force, a cost head), with at most ``max_keys`` keys
    (``maxProperties`` in the OpenAPI document), counted before any key or value is checked.
    Errors are reported under the key itself (``shares.west-mercia``), not marshmallow's
    ``key``/``value`` sub-entries. Every map a request takes is one."""

    def __init__(self, *, max_keys: int, **kwargs: Any):
        kwargs["metadata"] = {"maxProperties": max_keys, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)
        self.max_keys = max_keys

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[Any, Any]:
        if isinstance(value, Mapping) and len(value) > self.max_keys:
            raise ValidationError(f"must have at most {self.max_keys} keys, not {len(value)}.")
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError as error:
            messages = error.messages
            if isinstance(messages, dict):
                messages = {
                    key: [*entry.get("key", []), *entry.get("value", [])] if isinstance(entry, dict) else entry
                    for key, entry in messages.items()
                }
            raise ValidationError(messages) from None


def known_force(code: str) -> None:
    """A validator: one of the 43 forces' codes."""
    if code not in FORCES:
        shown = code if len(code) <= CODE_LENGTH else code[:CODE_LENGTH] + "…"
        raise ValidationError(f"unknown force code {shown!r}; GET /api/v1/forces lists them")
