"""A small local stand-in for Akeneo's REST API, for tests and trying the backfill: the OAuth token
endpoint (password and refresh-token grants, HTTP Basic client credentials), a product by uuid, a
product model by code, and both lists with search-after pagination. Serves what it was given, as
Akeneo would (PHP ``json_encode`` bytes), on 127.0.0.1 on a thread.

    with FakeAkeneo(port=18110, products=[...], product_models=[...]) as akeneo:
        AkeneoClient(akeneo.settings).get_product(uuid)
"""

from __future__ import annotations

import base64
import contextvars
import secrets
import threading
import time
from collections.abc import Iterable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devkit.pim_webhooks import php_json
from services.ingestion.akeneo_rest import PRODUCT_MODELS_PATH, PRODUCTS_PATH, TOKEN_PATH, AkeneoApiSettings

CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD = "twinwear_app", "fake-client-secret", "twinwear", "fake-password"


class FakeAkeneo:
    def __init__(
        self,
        port: int,
        products: Iterable[dict[str, object]] = (),
        product_models: Iterable[dict[str, object]] = (),
        token_lifetime_seconds: int = 3600,
    ) -> None:
        self.port = port
        self.products = {str(p["uuid"]): p for p in products}
        self.product_models = {str(m["code"]): m for m in product_models}
        self.token_lifetime = token_lifetime_seconds
        # The grants asked for, in order ("password", "refresh_token"), and the pages served.
        self.grants: list[str] = []
        self.requests: list[str] = []
        self._access: dict[str, float] = {}
        self._refresh: set[str] = set()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> AkeneoApiSettings:
        return AkeneoApiSettings(self.url, CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD)

    def revoke_tokens(self) -> None:
        """As an administrator revoking the connection's tokens would: the next call gets 401."""
        self._access.clear()

    # -- the endpoints ---------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"code": 401, "message": "Invalid client credentials"}, status_code=401)
        grant = await request.json()
        self.grants.append(str(grant.get("grant_type")))
        if grant.get("grant_type") == "password":
            if (grant.get("username"), grant.get("password")) != (USERNAME, PASSWORD):
                return JSONResponse({"code": 422, "message": "Invalid user credentials"}, status_code=422)
        elif grant.get("grant_type") != "refresh_token" or grant.get("refresh_token") not in self._refresh:
            return JSONResponse({"code": 422, "message": "Invalid refresh token"}, status_code=422)
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self._access[access] = time.monotonic() + self.token_lifetime
        self._refresh.add(refresh)
        return JSONResponse(
            {
                "access_token": access,
                "expires_in": self.token_lifetime,
                "token_type": "bearer",
                "scope": None,
                "refresh_token": refresh,
            }
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and self._access.get(token, 0.0) > time.monotonic()

    async def _one(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        if not self._authorized(request):
            return JSONResponse({"code": 401, "message": "The access token provided is invalid."}, status_code=401)
        collection = self.products if request.url.path.startswith(PRODUCTS_PATH) else self.product_models
        item = collection.get(request.path_params["key"])
        if item is None:
            return JSONResponse({"code": 404, "message": "Resource not found."}, status_code=404)
        return Response(php_json(item), media_type="application/json")

    async def _list(self, request: Request) -> Response:
        self.requests.append(str(request.url))
        if not self._authorized(request):
            return JSONResponse({"code": 401, "message": "The access token provided is invalid."}, status_code=401)
        products = request.url.path == PRODUCTS_PATH
        collection = self.products if products else self.product_models
        limit = int(request.query_params.get("limit", "10"))
        after = request.query_params.get("search_after", "")
        keys = sorted(k for k in collection if k > after)
        page = keys[:limit]
        base = f"{self.url}{request.url.path}?pagination_type=search_after&limit={limit}"
        links: dict[str, object] = {"self": {"href": str(request.url)}, "first": {"href": base}}
        if len(keys) > limit:
            links["next"] = {"href": f"{base}&search_after={page[-1]}"}
        document = {"_links": links, "_embedded": {"items": [collection[k] for k in page]}}
        return Response(php_json(document), media_type="application/json")

    # -- the server ------------------------------------------------------------------------------

    def __enter__(self) -> FakeAkeneo:
        app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route(PRODUCTS_PATH, self._list),
                Route(PRODUCT_MODELS_PATH, self._list),
                Route(PRODUCTS_PATH + "/{key}", self._one),
                Route(PRODUCT_MODELS_PATH + "/{key}", self._one),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._server.run,), daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the fake Akeneo could not listen on port {self.port}")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join()


def product_model(code: str, colour: str = "red") -> dict[str, object]:
    """A product model (a style in one colour) in Akeneo's standard format."""
    return {
        "code": code,
        "family": "tshirts",
        "family_variant": "tshirts_size",
        "parent": None,
        "categories": ["master_men_tshirts"],
        "values": {
            "name": [{"locale": "fr_FR", "scope": None, "data": "T-shirt côtelé"}],
            "color": [{"locale": None, "scope": None, "data": colour}],
        },
        "created": "2026-10-20T08:30:28+00:00",
        "updated": "2026-11-25T09:13:59+00:00",
    }


def product(product_uuid: str, identifier: str, parent: str, size: str) -> dict[str, object]:
    """A variant (one size) in Akeneo's standard format, as ``/products-uuid`` serves it."""
    return {
        "uuid": product_uuid,
        "identifier": identifier,
        "enabled": True,
        "family": "tshirts",
        "categories": ["master_men_tshirts"],
        "groups": [],
        "parent": parent,
        "values": {
            "sku": [{"locale": None, "scope": None, "data": identifier}],
            "size": [{"locale": None, "scope": None, "data": size}],
            "image": [{"locale": None, "scope": None, "data": f"a/b/c/d/{identifier}.jpg"}],
        },
        "created": "2026-10-20T08:30:28+00:00",
        "updated": "2026-11-25T09:13:59+00:00",
        "associations": {},
        "quantified_associations": {},
    }
