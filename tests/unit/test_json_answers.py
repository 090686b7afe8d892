"""Answers are encoded by orjson with the service's own rules for dates, times and decimals."""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from flask import Flask

from service.app import RecordsJSONProvider


@dataclass
class Entry:
    on: date
    amount: Decimal


def provider() -> RecordsJSONProvider:
    return RecordsJSONProvider(Flask(__name__))


def test_values_read_as_the_service_writes_them():
    document = {
        "b": Decimal("10500000.50"),
        "a": date(2019, 4, 1),
        "recorded_at": datetime(2019, 4, 1, 9, 30, tzinfo=UTC),
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "entry": Entry(date(2020, 1, 6), Decimal("0.69")),
        "text": "£ Σ r(W,f)",
        1: "a key that is a number",
    }
    answer = provider().encoded(document)
    assert json.loads(answer) == {
        "b": "10500000.50",
        "a": "2019-04-01",
        "recorded_at": "2019-04-01T09:30:00Z",
        "id": "12345678-1234-5678-1234-567812345678",
        "entry": {"on": "2020-01-06", "amount": "0.69"},
        "text": "£ Σ r(W,f)",
        "1": "a key that is a number",
    }
    assert list(json.loads(answer)) == sorted(json.loads(answer))  # keys sorted, as Flask sorts them
    assert "£".encode() in answer  # UTF-8, not escaped


def test_a_lone_surrogate_is_escaped_as_before_rather_than_failing():
    answer = provider().encoded({"detail": "bad \udc80 text"})
    assert json.loads(answer) == {"detail": "bad \udc80 text"}


def test_a_response_is_the_encoded_bytes():
    app = Flask(__name__)
    app.json = RecordsJSONProvider(app)
    with app.app_context():
        response = app.json.response({"total": Decimal("1.00")})
    assert response.mimetype == "application/json"
    assert response.get_data() == b'{"total":"1.00"}\n'
