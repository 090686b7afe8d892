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

Each field documents its own limits in the OpenAPI document, from the same constants as its rule
(``minLength``, ``maxLength``, ``pattern``, ``enum``, ``minimum``, ``maximum``), so that whatever
the document calls valid is accepted. A validator that knows its limits says so in ``json_schema``.
The patterns use only what JSON Schema's dialect (ECMA 262) and Python's ``re`` read alike: literal
characters, ``\\xHH`` and ``\\uHHHH`` escapes, classes and ranges; never ``\\s``, ``\\d``,
``\\w`` or ``\\Z``, whose meanings differ.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from marshmallow import ValidationError, fields, utils

from domain.forces import FORCES
from domain.values import MAX_AMOUNT, SHARE_PLACES, text_fault

DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
UNSIGNED_DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
MAX_DECIMAL_LENGTH = 64
INTEGER_TEXT = re.compile(r"-?[0-9]+", re.ASCII)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
RFC3339_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})", re.ASCII
)
CODE_LENGTH = 100  # force codes, kinds, bases, ids, financial years: all far shorter
# No list or map of forces can be longer than the list of forces: 43 (England and Wales).
MAX_FORCES = len(FORCES)

# ------------------------------------------------------------------ limits, as documented
# Whole digits of an amount or value below MAX_AMOUNT (10^15): at most 15.
AMOUNT_DIGITS = len(str(MAX_AMOUNT)) - 1


def decimal_pattern(places: int, *, signed: bool = False, digits: int = AMOUNT_DIGITS) -> str:
    """What a decimal of at most ``digits`` whole digits and ``places`` decimal places looks like."""
    return rf"^{'-?' if signed else ''}[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$"


# Money (domain.values.Money): to the penny, less than 10^15 either way.
MONEY_PATTERN = decimal_pattern(2)
SIGNED_MONEY_PATTERN = decimal_pattern(2, signed=True)
POSITIVE_MONEY_PATTERN = rf"^([1-9][0-9]{{0,{AMOUNT_DIGITS - 1}}}(\.[0-9]{{1,2}})?|0\.(0[1-9]|[1-9][0-9]?))$"
# A share (domain.values.Share): from 0 to 1, at most SHARE_PLACES decimal places.
SHARE_PATTERN = rf"^(0(\.[0-9]{{1,{SHARE_PLACES}}})?|1(\.0{{1,{SHARE_PLACES}}})?)$"
# A date Python reads (years 0001 to 9999); whether the day exists is the ``date`` format's to say.
_YEAR = "([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_MONTH_DAY = "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
DATE_PATTERN = f"^{_YEAR}-{_MONTH_DAY}$"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
_OFFSET = "(Z|z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
TIMESTAMP_PATTERN = f"^{_YEAR}-{_MONTH_DAY}[Tt]{_TIME}{_OFFSET}$"
# The text rule (domain.values.text_fault) refuses NUL, the C0 controls but tab, line feed and
# carriage return, DEL and lone surrogates; str.strip() takes away the characters str.isspace()
# names, of which these are the ones the rule lets through.
FORBIDDEN_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f\uD800-\uDFFF"
WHITESPACE = r"\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = f"^[^{FORBIDDEN_CHARACTERS}]*$"
# Text that says something: maybe some whitespace, then one character that is not, then any.
SAYING_TEXT_PATTERN = f"^[{WHITESPACE}]*[^{FORBIDDEN_CHARACTERS}{WHITESPACE}][^{FORBIDDEN_CHARACTERS}]*$"


def documented_by(*validators: Any) -> dict[str, Any]:
    """The JSON Schema limits the validators state (``json_schema``), later ones over earlier."""
    documented: dict[str, Any] = {}
    for validator in validators:
        documented.update(getattr(validator, "json_schema", {}))
    return documented


class DecimalString(fields.String):
    """An exact decimal written as a JSON string, e.g. ``"10500000.00"`` or ``"0.69"``.

    JSON numbers are refused: a parser turns them into binary floats before we see them,
    and a float anywhere near money is a bug. Digits are ASCII 0-9 only.

    The document shows a value below 10^15 either way with at most ``places`` decimal places,
    and a sign only when ``signed`` (a benefit's value: ``domain.benefit.parse_value``)."""

    what = "a decimal"
    example = "1.00"
    shape = DECIMAL_TEXT

    def __init__(self, *, signed: bool = True, places: int = SHARE_PLACES, **kwargs: Any):
        metadata = {"format": "decimal", "pattern": decimal_pattern(places, signed=signed), "example": self.example}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

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
    name (``negative-amount``); the documented pattern shows only what is valid: a ``signed``
    amount (a claim line) may be negative, a ``positive`` one (a settlement, a payment) is more
    than zero, any other is zero or more."""

    what = "an amount of money"
    example = "10500000.00"

    def __init__(self, *, signed: bool = False, positive: bool = False, **kwargs: Any):
        if positive:
            pattern, description = POSITIVE_MONEY_PATTERN, "GBP, more than zero, at most two decimals"
        else:
            pattern, description = decimal_pattern(2, signed=signed), "GBP, at most two decimals"
        metadata = {"pattern": pattern, "description": f"{description}, less than 1000000000000000.00"}
        super().__init__(places=2, metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)


class ShareString(DecimalString):
    """A share or rate from 0 to 1 as a string, e.g. ``"0.69"``. Never negative, not even ``-0``."""

    what = "a share"
    example = "0.69"
    shape = UNSIGNED_DECIMAL_TEXT

    def __init__(self, **kwargs: Any):
        metadata = {"pattern": SHARE_PATTERN, "description": f"From 0 to 1, at most {SHARE_PLACES} decimal places"}
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
    ``blank=False`` the text must also say something. ``json_schema`` is the rule as documented."""

    def __init__(self, max_length: int, *, blank: bool):
        self.max_length = max_length
        self.blank = blank

    @property
    def json_schema(self) -> dict[str, Any]:
        if self.blank:
            return {"maxLength": self.max_length, "pattern": TEXT_PATTERN}
        return {"minLength": 1, "maxLength": self.max_length, "pattern": SAYING_TEXT_PATTERN}

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
        rules = [TextRule(max_length, blank=blank), *([validators] if callable(validators) else validators or [])]
        kwargs["metadata"] = {**documented_by(*rules), **kwargs.get("metadata", {})}
        super().__init__(validate=rules, **kwargs)


class OptionalText(Text):
    """Text that may be left out: null, empty or whitespace-only arrives as None. Whitespace the
    text rule forbids (a vertical tab, a file separator) is refused like any other character."""

    def __init__(self, *, max_length: int, **kwargs: Any):
        kwargs.setdefault("allow_none", True)
        super().__init__(max_length=max_length, blank=True, **kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        return text if text.strip() or text_fault(text, self.max_length) is not None else None


class Code(Text):
    """A short identifier: a force code, a kind, a basis, an id. Whether it names anything
    is the domain's rule; blank is passed on for the domain to refuse by that rule's name."""

    def __init__(self, *, max_length: int = CODE_LENGTH, **kwargs: Any):
        super().__init__(max_length=max_length, blank=True, **kwargs)


class Date(fields.Date):
    """A calendar date written ``YYYY-MM-DD`` and nothing else: not ``20200229``, not
    ``2020-W09-6``, not a timestamp (Python's ``fromisoformat`` would take all of those)."""

    default_error_messages = {"invalid": "Not a valid date: write it YYYY-MM-DD, e.g. 2019-04-01."}

    def __init__(self, **kwargs: Any):
        kwargs["metadata"] = {"pattern": DATE_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Boolean):
    """A JSON ``true`` or ``false`` and nothing else: not "yes", not 1, not "true" (marshmallow's
    Boolean would take all of those)."""

    default_error_messages = {"invalid": "Not a valid flag: write true or false."}

    def __init__(self, **kwargs: Any):
        super().__init__(truthy={True}, falsy={False}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Timestamp(fields.AwareDateTime):
    """An RFC 3339 timestamp with its offset, e.g. ``2019-04-01T09:30:00Z``; RFC 3339 lets the
    ``T`` and ``Z`` be written in lower case too. At most microseconds, and no leap second."""

    default_error_messages = {"invalid": "Not a valid timestamp: write it like 2019-04-01T09:30:00Z (RFC 3339)."}

    def __init__(self, **kwargs: Any):
        kwargs["metadata"] = {"pattern": TIMESTAMP_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not RFC3339_TIMESTAMP.fullmatch(value):
            raise self.make_error("invalid")
        moment = super()._deserialize(value.upper(), attr, data, **kwargs)  # Python reads only "T" and "Z"
        try:
            moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC: before anything, as is UTC's first
            return datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max.replace(tzinfo=UTC)
        return moment


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


class KnownForce:
    """A validator: one of the 43 forces' codes (documented as their ``enum``)."""

    json_schema = {"enum": list(FORCES)}

    def __call__(self, code: str) -> None:
        if code not in FORCES:
            shown = code if len(code) <= CODE_LENGTH else code[:CODE_LENGTH] + "…"
            raise ValidationError(f"unknown force code {shown!r}; GET /api/v1/forces lists them")


known_force = KnownForce()


class UuidText:
    """A validator: an id, as UUID text (documented as ``format: uuid``)."""

    json_schema = {"format": "uuid"}

    def __call__(self, value: str) -> None:
        try:
            UUID(value)
        except ValueError:
            raise ValidationError("not an id: a UUID such as 1c0b5a4e-6f3d-4a8e-9d7c-2b1e0f9a8c7d") from None


uuid_text = UuidText()
# A force code in a request body: the domain refuses any other by its rule's name (unknown-force).
FORCE_CODE = {
    "enum": list(FORCES),
    "description": "A force code, e.g. west-mercia (GET /api/v1/forces)",
    "example": "west-mercia",
}
