"""Marshmallow fields for the HTTP contract: money and shares travel as decimal strings and
are never floats, counts are whole JSON integers, and text that must say something is not
blank.

These fields check the shape of the JSON only. Whether an amount or a share is acceptable
(sign, precision, range, sum) is the domain's rule, checked by the domain.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields

DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
MONEY_PATTERN = r"^-?\d+(\.\d{1,2})?$"
SHARE_PATTERN = r"^\d+(\.\d+)?$"


class DecimalString(fields.String):
    """An exact decimal written as a JSON string, e.g. ``"10500000.00"`` or ``"0.69"``.

    JSON numbers are refused: a parser turns them into binary floats before we see them,
    and a float anywhere near money is a bug.
    """

    what = "a decimal"
    example = "1.00"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:  # type: ignore[override]
        if isinstance(value, bool) or not isinstance(value, str):
            if isinstance(value, int | float):
                raise ValidationError(
                    f"{self.what} must be a JSON string such as {self.example!r}, not a JSON number: "
                    "numbers lose exactness, so money and shares are always sent as strings"
                )
            raise ValidationError(f"{self.what} must be a JSON string such as {self.example!r}")
        text = value.strip()
        if not DECIMAL_TEXT.match(text):
            raise ValidationError(f"{value!r} is not {self.what}; write it like {self.example!r}")
        return Decimal(text)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class MoneyString(DecimalString):
    """An amount in GBP as a string with at most two decimals, e.g. ``"10500000.00"``."""

    what = "an amount of money"
    example = "10500000.00"

    def __init__(self, **kwargs: Any):
        metadata = {"format": "decimal", "pattern": MONEY_PATTERN, "example": self.example}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)


class ShareString(DecimalString):
    """A share or rate from 0 to 1 as a string, e.g. ``"0.69"``."""

    what = "a share"
    example = "0.69"

    def __init__(self, **kwargs: Any):
        metadata = {"format": "decimal", "pattern": SHARE_PATTERN, "example": self.example}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)


class WholeNumber(fields.Integer):
    """A JSON integer: ``12``, never ``12.0``, ``"12"`` or ``true``."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be empty")


class Text(fields.String):
    """Text that must say something when given: blank or whitespace-only is refused."""

    def __init__(self, **kwargs: Any):
        validators = kwargs.pop("validate", None)
        extra = [validators] if callable(validators) else list(validators or [])
        super().__init__(validate=[not_blank, *extra], **kwargs)


class KeyedBy(fields.Dict):
    """A JSON object keyed by a code (a force, a cost head). Errors are reported under the
    key itself (``shares.west-mercia``), not marshmallow's ``key``/``value`` sub-entries."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[Any, Any]:
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
