"""The one check every domain test of a refusal makes: the command raises its error and the
aggregate is as it was (no new version, no pending event, the same state)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

E = TypeVar("E", bound=BaseException)


def assert_refused(aggregate: Any, error: type[E], command: Callable[..., Any], *args: Any, **kwargs: Any) -> E:
    """``command(*args, **kwargs)`` raises ``error`` and changes nothing of ``aggregate``;
    answers the error raised."""
    version = aggregate.version
    state = _state(aggregate)
    with pytest.raises(error) as raised:
        command(*args, **kwargs)
    assert aggregate.version == version
    assert aggregate.collect_events() == []
    assert _state(aggregate) == state
    return raised.value


def _state(aggregate: Any) -> dict[str, Any]:
    return copy.deepcopy({name: value for name, value in vars(aggregate).items() if name != "_pending_events"})
