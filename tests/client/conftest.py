"""Fixtures for SDK tests: a fake server at the network edge and a hand-moved clock."""

from __future__ import annotations

import pytest

from .fakes import FakeClock, FakeServer


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
