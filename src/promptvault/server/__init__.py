"""The promptvault HTTP server: REST API under ``/v1``, API keys with roles, metrics.

``create_app(settings)`` builds the FastAPI application; ``promptvault serve`` runs it with
uvicorn. Importing this package needs the ``server`` extra (FastAPI, SQLAlchemy).
"""

from __future__ import annotations

__all__: list[str] = []
