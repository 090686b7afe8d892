"""Fixtures the integration tests share: the store's environment on each backend, the
application on it, and projections opened on it (closed after the test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from projections.benefits_realisation import BenefitsRealisation
from service.application import CollaborationRecords
from service.persistence import persistence_environment
from service.queries import RecordQueries


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return persistence_environment(database_url)


@pytest.fixture
def records(env: dict[str, str]) -> Iterator[CollaborationRecords]:
    application = CollaborationRecords(env=env)
    yield application
    application.close()


@pytest.fixture
def open_projection(env: dict[str, str], records: CollaborationRecords) -> Iterator[Callable[..., Any]]:
    """Opens a projection class (Register, DecisionLog) on the test's store."""
    opened: list[Any] = []

    def open_(projection_class: type, **options: Any) -> Any:
        projection = projection_class(env, records, **options)
        opened.append(projection)
        return projection

    yield open_
    for projection in opened:
        projection.close()


@pytest.fixture
def queries(records: CollaborationRecords, open_projection: Callable[..., Any]) -> RecordQueries:
    """The read side over the test's application, with the realisation projection that lists a
    collaboration's benefits (its history asks it)."""
    return RecordQueries(records, benefits_realisation=open_projection(BenefitsRealisation))
