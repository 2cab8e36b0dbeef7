"""The HTTP API (FastAPI) and the chat widget's static files."""

from api.app import create_app

__all__ = ["create_app"]
