"""How a feature's routes are made and added to an app: built when first used, added as they are.

Every feature makes its routes on a ``Router`` of its own (``make_..._router``) and adds them
to the node's app with ``install_routes``.

**Built when first used.** FastAPI (0.165) builds a path operation's state when the route is
made: its dependant (the endpoint's signature read and each parameter classified) and a
pydantic TypeAdapter for every parameter and response model. That was about 96 % of the CPU of
making a node's app (12-36 ms a node by role; docs/benchmarks.md), paid for every
route whether a request ever reaches it or not: for each app a test makes, and for every node
process at its start. A ``Router`` makes ``DeferredRoute`` path operations: what matching a
request and building a URL need (the path's pattern and convertors, the methods, the name;
and its response class, which the OpenAPI document reads of every route) is made at once, as
APIRoute makes it; the rest is FastAPI's own ``APIRoute.__init__``, run with
the same arguments the first time anything else of the route is read: when a request reaches
it, or when the app's OpenAPI document is made. An error in a route's declaration therefore
shows at its first use, not at the app's start: tests/security/test_every_route_builds.py
builds every route of every role. ADR 0033.

**Added as they are.** FastAPI's ``include_router`` keeps the router as a branch of the app
and, at the app's first request, builds each of its routes' state again for that branch; and
at every request it walks each branch's routes to see whether any changed. Our routers are
included with nothing of the branch's own (no prefix, tags, dependencies or responses: a
router's own are already in its routes, which APIRouter applies as it makes them), so each
route is already what the branch would build: it is added as it is.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.datastructures import Default
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route, compile_path, get_name


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


def _state_names() -> frozenset[str]:
    """The attributes APIRoute.__init__ makes: those one made here at import holds, and those
    its classes declare (any it makes only for some routes)."""

    async def probe() -> None:
        """A path operation with nothing of its own."""

    declared = {name for cls in APIRoute.__mro__ for name in vars(cls).get("__annotations__", {})}
    return frozenset(vars(APIRoute("/", probe))) | declared


class DeferredRoute(APIRoute):
    """A path operation whose FastAPI state is built when first read (the module's docstring).

    Made at once: path, endpoint, name, the path's pattern, format and convertors, methods,
    include_in_schema and response_class, exactly as APIRoute makes them (the OpenAPI document
    reads response_class of every route, before it skips those not in the schema). Reading
    anything else APIRoute makes runs ``APIRoute.__init__`` with the arguments given here,
    once, and then is what FastAPI made; a name APIRoute does not make is an AttributeError,
    as on an APIRoute, and builds nothing.
    """

    _STATE = _state_names()
    _BUILDING = threading.RLock()  # builds are rare and short: one lock for every route

    def __init__(self, path: str, endpoint: Any, **options: Any) -> None:
        self._deferred: tuple[str, Any, dict[str, Any]] | None = (path, endpoint, options)
        self._builder: int | None = None
        self.path = path
        self.endpoint = endpoint
        name = options.get("name")
        self.name = get_name(endpoint) if name is None else name
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.methods = {method.upper() for method in options.get("methods") or ("GET",)}
        self.include_in_schema = options.get("include_in_schema", True)
        self.response_class = options.get("response_class", Default(JSONResponse))

    def __getattr__(self, name: str) -> Any:
        # Called only for what the instance does not hold: FastAPI's state not made yet. While
        # this thread builds the route, what APIRoute has not made yet is missing, as it is
        # on an APIRoute being made.
        if name not in self._STATE or self.__dict__.get("_builder") == threading.get_ident():
            raise AttributeError(name)
        self.build()
        return object.__getattribute__(self, name)

    @property
    def built(self) -> bool:
        """Whether FastAPI's state of the route is made."""
        return self._deferred is None

    def build(self) -> None:
        """Make FastAPI's state of the route now (once; what its first use would do)."""
        with self._BUILDING:
            if self._deferred is None:
                return
            path, endpoint, options = self._deferred
            self._builder = threading.get_ident()
            try:
                APIRoute.__init__(self, path, endpoint, **options)
            finally:
                self._builder = None
            self._deferred = None


class Router(APIRouter):
    """An APIRouter whose path operations are DeferredRoutes: every feature's routes are made
    on one (tests/unit/test_routing.py checks that no other module makes an APIRouter)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(route_class=DeferredRoute, **options)
