"""FastAPI glue: every error of an app answers as RFC 9457 problem+json (digitalstate.problems)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from digitalstate.problems import PROBLEM_MEDIA_TYPE, Problem

log = logging.getLogger(__name__)

_BY_STATUS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    400: "malformed-request",
}


def problem_response(problem: Problem, request: Request) -> Response:
    """A problem+json response for problem."""
    return JSONResponse(
        problem.to_dict(request.url.path), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug = _BY_STATUS.get(
        exc.status_code, "malformed-request" if exc.status_code < 500 else "internal-error"
    )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    response = problem_response(Problem(slug, detail), request)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        message = first.get("ctx", {}).get("error", "invalid JSON")
        return problem_response(
            Problem("malformed-json", f"the body is not valid JSON: {message}"), request
        )
    described = [
        {"location": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")}
        for e in errors
    ]
    first = described[0] if described else {"location": [], "message": "invalid"}
    detail = f"{'.'.join(first['location'])}: {first['message']}"
    return problem_response(Problem("validation-failed", detail, {"errors": described}), request)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        Problem("internal-error", "the node could not complete this request; it has been logged"),
        request,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of app answer as problem+json."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_unexpected)
