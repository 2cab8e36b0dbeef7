"""The HTTP API (FastAPI) and the chat widget's static files.

``from api import create_app`` imports the app (FastAPI, the routes, their schemas) when it is
first named, not when any ``api`` module is: ``rag serve`` loads the models meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
