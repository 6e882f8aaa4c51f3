"""A small task API: the service the pipeline protects."""

from taskapi.app import create_app

__all__ = ["create_app"]
