"""The task API over HTTP: the happy paths and every kind of bad input."""

from __future__ import annotations

import json
import threading

import pytest
from flask import Flask
from flask.testing import FlaskClient

from taskapi import create_app
from taskapi.app import MAX_BODY_BYTES
from taskapi.store import TaskStore
from taskapi.validation import MAX_TITLE_LENGTH


def create(client: FlaskClient, **payload: object):
    return client.post("/tasks", json=payload)


def assert_json_error(response, status: int) -> None:
    assert response.status_code == status
    assert response.is_json, response.data
    assert isinstance(response.get_json()["error"], str)
    assert response.get_json()["error"]


def test_health(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_create_answers_201_with_task_and_location(client: FlaskClient) -> None:
    response = create(client, title="write tests")
    assert response.status_code == 201
    assert response.get_json() == {"id": 1, "title": "write tests", "done": False}
    assert response.headers["Location"] == "/tasks/1"


def test_create_accepts_done_flag(client: FlaskClient) -> None:
    response = create(client, title="ship", done=True)
    assert response.status_code == 201
    assert response.get_json()["done"] is True


def test_list_returns_created_tasks_in_order(client: FlaskClient) -> None:
    assert client.get("/tasks").get_json() == {"tasks": []}
    create(client, title="a")
    create(client, title="b")
    titles = [task["title"] for task in client.get("/tasks").get_json()["tasks"]]
    assert titles == ["a", "b"]


def test_fetch_by_id(client: FlaskClient) -> None:
    location = create(client, title="fetch me").headers["Location"]
    response = client.get(location)
    assert response.status_code == 200
    assert response.get_json()["title"] == "fetch me"


def test_missing_fields_is_400(client: FlaskClient) -> None:
    assert_json_error(client.post("/tasks", json={}), 400)


def test_unknown_id_is_404(client: FlaskClient) -> None:
    assert_json_error(client.get("/tasks/999"), 404)


def test_delete_then_404(client: FlaskClient) -> None:
    location = create(client, title="temporary").headers["Location"]
    response = client.delete(location)
    assert response.status_code == 204
    assert response.data == b""
    assert_json_error(client.get(location), 404)
    assert_json_error(client.delete(location), 404)


def test_ids_are_not_reused_after_delete(client: FlaskClient) -> None:
    first = create(client, title="one").get_json()["id"]
    client.delete(f"/tasks/{first}")
    assert create(client, title="two").get_json()["id"] == first + 1


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "required"),
        ({"title": ""}, "empty"),
        ({"title": "   "}, "empty"),
        ({"title": 42}, "string"),
        ({"title": None}, "string"),
        ({"title": ["a"]}, "string"),
        ({"title": "x" * (MAX_TITLE_LENGTH + 1)}, "at most"),
        ({"title": "ok", "done": "yes"}, "boolean"),
        ({"title": "ok", "done": 1}, "boolean"),
        ({"title": "ok", "done": None}, "boolean"),
        ({"title": "ok", "owner": "me"}, "unknown field"),
    ],
)
def test_invalid_task_is_400(client: FlaskClient, payload: dict, fragment: str) -> None:
    response = client.post("/tasks", json=payload)
    assert_json_error(response, 400)
    assert fragment in response.get_json()["error"]
    assert client.get("/tasks").get_json() == {"tasks": []}


def test_title_at_the_limit_is_accepted(client: FlaskClient) -> None:
    assert create(client, title="x" * MAX_TITLE_LENGTH).status_code == 201


@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "3", "null", "true"])
def test_json_that_is_not_an_object_is_400(client: FlaskClient, body: str) -> None:
    response = client.post("/tasks", data=body, content_type="application/json")
    assert_json_error(response, 400)


@pytest.mark.parametrize("body", ["{not json", "", "{'title': 'single quotes'}", "\xff"])
def test_malformed_json_is_400(client: FlaskClient, body: str) -> None:
    response = client.post("/tasks", data=body, content_type="application/json")
    assert_json_error(response, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client: FlaskClient, content_type: str | None) -> None:
    response = client.post("/tasks", data='{"title": "x"}', content_type=content_type)
    assert_json_error(response, 415)


def test_body_over_the_limit_is_413(client: FlaskClient) -> None:
    body = json.dumps({"title": "x" * MAX_BODY_BYTES})
    response = client.post("/tasks", data=body, content_type="application/json")
    assert_json_error(response, 413)


def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    assert_json_error(client.get("/nope"), 404)


def test_non_integer_id_is_404(client: FlaskClient) -> None:
    assert_json_error(client.get("/tasks/abc"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/tasks", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("patch", "/tasks/1", {"GET", "HEAD", "OPTIONS", "DELETE"}),
        ("post", "/health", {"GET", "HEAD", "OPTIONS"}),
        ("delete", "/tasks", {"GET", "HEAD", "OPTIONS", "POST"}),
    ],
)
def test_wrong_method_is_json_405(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = getattr(client, method)(path)
    assert_json_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) == allowed


def test_unexpected_error_is_json_500_without_traceback(store: TaskStore) -> None:
    class BrokenStore(TaskStore):
        def list(self):
            raise RuntimeError("disk on fire")

    app = create_app(BrokenStore())
    response = app.test_client().get("/tasks")
    assert_json_error(response, 500)
    assert b"disk on fire" not in response.data
    assert b"Traceback" not in response.data


def test_concurrent_creates_lose_nothing(app: Flask, store: TaskStore) -> None:
    threads, per_thread = 16, 25
    barrier = threading.Barrier(threads)
    ids: list[int] = []
    ids_lock = threading.Lock()

    def worker(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        for i in range(per_thread):
            response = client.post("/tasks", json={"title": f"t{n}-{i}"})
            assert response.status_code == 201
            with ids_lock:
                ids.append(response.get_json()["id"])

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    total = threads * per_thread
    assert sorted(ids) == list(range(1, total + 1))
    assert len(store.list()) == total
    assert {task.title for task in store.list()} == {
        f"t{n}-{i}" for n in range(threads) for i in range(per_thread)
    }


def test_reset_restarts_ids(store: TaskStore) -> None:
    store.create("a")
    store.reset()
    assert store.list() == []
    assert store.create("b").id == 1
