"""The finance officers' HTTP API (Flask + flask-smorest), its OpenAPI document and the `ledger` command."""

from api.app import create_app

__all__ = ["create_app"]
