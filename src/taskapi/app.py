"""The Flask application factory and the HTTP routes."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from taskapi.store import TaskStore
from taskapi.validation import InvalidTask, parse_new_task

# A task is a title and a flag: 16 KiB is generous and bounds memory per request.
MAX_BODY_BYTES = 16 * 1024


def create_app(store: TaskStore | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    tasks = store if store is not None else TaskStore()
    app.extensions["taskapi.store"] = tasks

    @app.errorhandler(HTTPException)
    def json_error(error: HTTPException) -> tuple[Response, int]:
        # Werkzeug answers 404, 405, 413 and friends with HTML by default.
        response = jsonify(error=error.description or error.name)
        if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response, error.code or 500

    @app.errorhandler(Exception)
    def unexpected_error(_error: Exception) -> tuple[Response, int]:
        # Never a traceback to the client; the server log keeps the details.
        app.logger.exception("unhandled error")
        return jsonify(error="internal server error"), 500

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/tasks")
    def list_tasks() -> dict[str, Any]:
        return {"tasks": [task.to_json() for task in tasks.list()]}

    @app.post("/tasks")
    def create_task() -> tuple[Response, int] | Response:
        if not request.is_json:
            return jsonify(error="content type must be application/json"), 415
        payload = request.get_json(silent=True)
        if payload is None:
            return jsonify(error="body is not valid JSON"), 400
        try:
            new = parse_new_task(payload)
        except InvalidTask as error:
            return jsonify(error=str(error)), 400
        task = tasks.create(new.title, done=new.done)
        response = jsonify(task.to_json())
        response.status_code = 201
        response.headers["Location"] = url_for("get_task", task_id=task.id)
        return response

    @app.get("/tasks/<int:task_id>")
    def get_task(task_id: int) -> dict[str, Any] | tuple[Response, int]:
        task = tasks.get(task_id)
        if task is None:
            return jsonify(error=f"task {task_id} not found"), 404
        return task.to_json()

    @app.delete("/tasks/<int:task_id>")
    def delete_task(task_id: int) -> tuple[str, int] | tuple[Response, int]:
        if not tasks.delete(task_id):
            return jsonify(error=f"task {task_id} not found"), 404
        return "", 204

    return app
