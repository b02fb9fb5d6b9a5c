"""One way to add a feature's routes to an app: as they are, not through include_router.

Every feature builds its routes on an APIRouter of its own (``make_..._router``) and adds them
to the node's app here. FastAPI's ``include_router`` (0.165) keeps the router as a branch of
the app and, at the app's first request, builds each of its routes' state again for that
branch: the dependant, and a pydantic TypeAdapter for every parameter, the most expensive part
of building an app (about a quarter of the CPU of a test module that builds one per test,
measured with py-spy); and at every request it walks each branch's routes to see whether any
changed. Our routers are included with nothing of the branch's own (no prefix, tags,
dependencies or responses: a router's own are already in its routes, which APIRouter applies
as it builds them), so each route is already what the branch would build: it is added as it is.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route


def install_routes(app: FastAPI, router: APIRouter) -> None:
    """Add router's routes to app as they are (the module's docstring says why).

    A router whose routes need its inclusion (a lifespan or event handlers of its own, or a
    route of a kind other than a path operation, a plain route or a mount) is refused: it must
    be included with app.include_router.
    """
    if (
        router.on_startup
        or router.on_shutdown
        or not isinstance(router.lifespan_context, _NO_LIFESPAN)
    ):
        raise ValueError("a router with a lifespan of its own must be included, not installed")
    for route in router.routes:
        if not isinstance(route, APIRoute | Route | Mount):
            raise ValueError(f"{route!r} must be included with app.include_router")
        app.router.routes.append(route)


_NO_LIFESPAN = type(APIRouter().lifespan_context)  # what a router made without one has
