"""Failures injected on purpose, to stand for a crash at a chosen moment."""

from __future__ import annotations

from typing import Any

import pytest


class InjectedFailure(Exception):
    """Raised on purpose, by ``fail_on_call``, to stand for a crash mid-batch."""


def fail_on_call(monkeypatch: pytest.MonkeyPatch, target: type, method: str, call: int) -> None:
    """Makes ``target.method`` raise InjectedFailure on its ``call``-th call (counting from 1)
    and behave as before otherwise."""
    original = getattr(target, method)
    calls = 0

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            raise InjectedFailure(f"{method} failed")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, method, failing)
