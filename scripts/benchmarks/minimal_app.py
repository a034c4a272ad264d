"""The Flask minimal POST baseline: parse the same JSON body on the same path and answer 201, nothing else."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

app = Flask(__name__)


@app.post("/api/v1/projects/<uuid:project_id>/expenditures")
def expenditure(project_id: Any) -> tuple[dict[str, Any], int]:
    body = request.get_json()
    return {"project_id": str(project_id), "amount": body["amount"]}, 201
