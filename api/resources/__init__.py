"""One blueprint per resource; views parse, call one use case, and answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser

from api.problems import PROBLEM_JSON
from api.schemas.common import ProblemSchema


class StrictParser(FlaskParser):
    """Unknown query parameters are refused like unknown body fields (webargs would drop them silently)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}


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
