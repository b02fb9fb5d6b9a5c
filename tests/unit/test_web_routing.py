"""install_routes adds a feature's routes to an app as include_router would, and refuses what
it cannot add as they are (web/routing.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel

from digitalstate.web.routing import install_routes


class Reading(BaseModel):
    meter: str
    value: int


def _checked(x_caller: Annotated[str, Header()] = "anyone") -> str:
    if x_caller == "banned":
        raise HTTPException(403, "not you")
    return x_caller


def make_router() -> APIRouter:
    """A router with settings of its own at every level a feature's router uses."""
    router = APIRouter(
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


def _both() -> tuple[FastAPI, FastAPI]:
    included, installed = FastAPI(), FastAPI()
    included.include_router(make_router())
    install_routes(installed, make_router())
    return included, installed


def _answers(app: FastAPI) -> list[tuple[int, str, str]]:
    calls = [
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
    ]

    async def run() -> list[tuple[int, str, str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            out = []
            for method, path, body, headers in calls:
                answer = await client.request(method, path, json=body, headers=headers)
                out.append((answer.status_code, answer.headers["content-type"], answer.text))
            return out

    return asyncio.run(run())


def test_installed_routes_answer_as_included_ones_do() -> None:
    included, installed = _both()
    assert _answers(installed) == _answers(included)


def test_installed_routes_describe_the_same_api() -> None:
    included, installed = _both()
    assert installed.openapi() == included.openapi()
    assert installed.url_path_for("read", meter="gas") == "/meters/gas"


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
