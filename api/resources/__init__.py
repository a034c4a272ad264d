"""One blueprint per resource; views parse, call one use case, and answer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser

from api.problems import PROBLEM_JSON
from api.schemas.common import ProblemSchema


class StrictParser(FlaskParser):
    """Unknown query parameters are refused like unknown body fields (webargs would drop them silently).

    A view's schema class is instantiated once, not on every request as webargs does (building a schema copies all
    its fields: about a tenth of a posting's time in the API). Loading never changes a schema instance, so threads
    share it."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type[ma.Schema], ma.Schema] = {}
        self._schemas_lock = threading.Lock()

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        if not (isinstance(argmap, type) and issubclass(argmap, ma.Schema)):
            return super()._get_schema(argmap, req)  # type: ignore[no-any-return]
        schema = self._schemas.get(argmap)
        if schema is None:
            with self._schemas_lock:
                schema = self._schemas.setdefault(argmap, argmap())
        return schema


class Blueprint(SmorestBlueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = StrictParser()


WRITE_PROBLEMS = (400, 401, 403, 404, 409, 412, 413, 415, 422)
READ_PROBLEMS = (401, 403, 404, 422)


def problems(blp: Blueprint, *statuses: int) -> Callable[[Any], Any]:
    """Documents the problem responses an operation can give."""

    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(status, schema=ProblemSchema, content_type=PROBLEM_JSON,
                                    description="application/problem+json")(view)
        return view

    return decorate


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}
