"""install_routes adds a feature's routes to an app as include_router would, and refuses what
it cannot add as they are; a Router's routes, built at first use, answer and describe the API
as APIRouter's do (routing.py)."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel

import digitalstate
from digitalstate.routing import DeferredRoute, Router, install_routes


class Reading(BaseModel):
    meter: str
    value: int


def _checked(x_caller: Annotated[str, Header()] = "anyone") -> str:
    if x_caller == "banned":
        raise HTTPException(403, "not you")
    return x_caller


def make_router(kind: type[APIRouter] = APIRouter) -> APIRouter:
    """A router with settings of its own at every level a feature's router uses."""
    router = kind(
        prefix="/meters",
        tags=["meters"],
        dependencies=[Depends(_checked)],
        responses={404: {"description": "no such meter"}},
    )

    @router.get("/{meter}", response_model=Reading)
    async def read(meter: str, scale: int = 1) -> Reading:
        if meter == "missing":
            raise HTTPException(404, "no such meter")
        return Reading(meter=meter, value=42 * scale)

    @router.post("/{meter}", status_code=201)
    async def write(meter: str, reading: Reading) -> dict[str, str]:
        return {"stored": f"{meter}:{reading.value}"}

    @router.get("/{meter}/page", response_class=HTMLResponse, include_in_schema=False)
    async def page(meter: str) -> str:
        return f"<p>{meter}</p>"

    async def about() -> str:
        return "about meters"

    router.add_api_route("/about", about, methods=["GET"], response_class=PlainTextResponse)
    return router


def _both(kind: type[APIRouter] = APIRouter) -> tuple[FastAPI, FastAPI]:
    """The router included in one app, and installed (made as kind) in another."""
    included, installed = FastAPI(), FastAPI()
    included.include_router(make_router())
    install_routes(installed, make_router(kind))
    return included, installed


CALLS: list[tuple[str, str, dict[str, int | str] | None, dict[str, str]]] = [
    ("GET", "/meters/gas?scale=2", None, {}),
    ("GET", "/meters/gas?scale=many", None, {}),
    ("GET", "/meters/missing", None, {}),
    ("GET", "/meters/gas", None, {"x-caller": "banned"}),
    ("POST", "/meters/gas", {"meter": "gas", "value": 7}, {}),
    ("POST", "/meters/gas", {"meter": "gas"}, {}),
    ("DELETE", "/meters/gas", None, {}),
    ("GET", "/meters/gas/page", None, {}),
    ("GET", "/meters/about", None, {}),
    ("GET", "/nowhere", None, {}),
    ("HEAD", "/meters/gas", None, {}),
    ("OPTIONS", "/meters/gas", None, {}),
]


def _answers(app: FastAPI, calls: list[Any] = CALLS) -> list[tuple[int, str, str, str]]:
    async def run() -> list[tuple[int, str, str, str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            out = []
            for method, path, body, headers in calls:
                answer = await client.request(method, path, json=body, headers=headers)
                out.append(
                    (
                        answer.status_code,
                        answer.headers.get("content-type", ""),
                        answer.headers.get("allow", ""),
                        answer.text,
                    )
                )
            return out

    return asyncio.run(run())


@pytest.mark.parametrize("kind", [APIRouter, Router])
def test_installed_routes_answer_as_included_ones_do(kind: type[APIRouter]) -> None:
    included, installed = _both(kind)
    assert _answers(installed) == _answers(included)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c[0]} {c[1]}")
def test_a_routers_first_request_of_each_kind_answers_as_an_apirouters(call: Any) -> None:
    # Each call is the first its app gets: on a Router's, nothing of the route is built yet.
    included, installed = _both(Router)
    assert _answers(installed, [call]) == _answers(included, [call])


@pytest.mark.parametrize("kind", [APIRouter, Router])
def test_installed_routes_describe_the_same_api(kind: type[APIRouter]) -> None:
    included, installed = _both(kind)
    assert installed.url_path_for("read", meter="gas") == "/meters/gas"
    assert installed.openapi() == included.openapi()


def test_a_routers_routes_are_built_when_first_used_and_once() -> None:
    app = FastAPI()
    install_routes(app, make_router(Router))
    routes = [r for r in app.router.routes if isinstance(r, DeferredRoute)]
    assert len(routes) == 4 and not any(r.built for r in routes)
    # A URL is made, and a request matched, without building anything.
    assert app.url_path_for("page", meter="gas") == "/meters/gas/page"
    assert not any(r.built for r in routes)
    (page,) = [r for r in routes if r.name == "page"]
    assert _answers(app, CALLS[7:8]) == [(200, "text/html; charset=utf-8", "", "<p>gas</p>")]
    assert page.built
    dependant = page.dependant
    page.build()  # again: nothing is made anew
    assert page.dependant is dependant
    # What APIRoute made (tags, dependencies and responses of the router) is all there.
    (read,) = [r for r in routes if r.name == "read"]
    assert read.tags == ["meters"] and 404 in read.responses and len(read.dependencies) == 1


def test_a_name_fastapi_does_not_make_builds_nothing_and_a_route_copies() -> None:
    (route, *_) = make_router(Router).routes
    assert isinstance(route, DeferredRoute)
    assert getattr(route, "_no_such_thing", None) is None
    assert not asyncio.iscoroutinefunction(route) and not route.built
    copied = copy.deepcopy(route)
    assert copied.dependant.path == "/meters/{meter}" and copied.built and not route.built


@pytest.mark.parametrize("kind", [APIRouter, Router])
def test_a_declaration_reading_what_is_not_made_yet_fails_as_fastapi_does(
    kind: type[APIRouter],
) -> None:
    # The unique id is made before the status code: reading it is an AttributeError on an
    # APIRoute, and the same (not a build within the build) on a DeferredRoute.
    router = kind(generate_unique_id_function=lambda route: f"id-{route.status_code}")

    async def x() -> str:
        return "x"

    with pytest.raises(AttributeError, match="status_code"):
        router.add_api_route("/x", x)  # an APIRouter builds it here
        (route,) = router.routes
        assert isinstance(route, DeferredRoute)
        route.build()


def test_an_error_in_a_routes_declaration_shows_when_it_is_built() -> None:
    router = Router()

    @router.get("/bad", response_model=contextlib.AbstractContextManager)
    async def bad() -> None:
        return None

    (route,) = router.routes
    assert isinstance(route, DeferredRoute)
    with pytest.raises(Exception, match="response_model"):
        route.build()


def test_no_module_but_routing_makes_an_apirouter() -> None:
    # Every feature's routes are built at first use: a module making an APIRouter of its own
    # would build all of its routes with every app again.
    package = Path(digitalstate.__file__).parent
    makers = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "routing.py" and path.parent == package:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            called = node.func if isinstance(node, ast.Call) else None
            name = getattr(called, "id", None) or getattr(called, "attr", None)
            if name == "APIRouter":
                makers.append(f"{path.relative_to(package)}:{node.lineno}")
    assert makers == [], "make routes on digitalstate.routing.Router"


def test_a_router_with_a_lifespan_of_its_own_is_refused() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        yield

    with pytest.raises(ValueError, match="lifespan"):
        install_routes(FastAPI(), APIRouter(lifespan=lifespan))


def test_a_router_that_only_an_inclusion_can_carry_is_refused() -> None:
    outer, inner = APIRouter(), APIRouter()

    @inner.get("/x")
    async def x() -> str:
        return "x"

    outer.include_router(inner)
    with pytest.raises(ValueError, match="included"):
        install_routes(FastAPI(), outer)
