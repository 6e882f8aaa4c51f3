"""Fixtures of the service's tests: a fresh store and app for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from taskapi import create_app
from taskapi.store import TaskStore


@pytest.fixture
def store() -> Iterator[TaskStore]:
    tasks = TaskStore()
    yield tasks
    tasks.reset()


@pytest.fixture
def app(store: TaskStore) -> Flask:
    return create_app(store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
