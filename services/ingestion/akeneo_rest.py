"""Akeneo's REST API: the adapter behind the aggregator's ``ProductFetcher`` port (the Event
Platform's events carry only a uuid or a code) and behind the backfill.

Authentication is Akeneo's OAuth password grant: ``POST /api/oauth/v1/token`` with the connection's
client id and secret as HTTP Basic and the connection user's username and password; the access
token (an hour) is refreshed with the refresh token before it expires, or when the API answers
401, and requested afresh when the refresh token is refused too. Settings come from
``TWINWEAR_AKENEO_API_URL``, ``TWINWEAR_AKENEO_API_CLIENT_ID``, ``_API_SECRET``, ``_API_USERNAME``
and ``_API_PASSWORD``.

Faults: Akeneo unreachable, 5xx, 429 or credentials refused raise ``Unavailable("akeneo")`` (waited
out, never dead-lettered); a product or model that does not exist (404) raises :class:`NotFound`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from urllib.parse import quote, urlsplit

import httpx

from services.ingestion.webhooks import InvalidDelivery
from services.ingestion.webhooks.raw_json import RawValue, array_elements, object_members
from twinwear_runtime.config import ConfigError
from twinwear_runtime.faults import Unavailable

TOKEN_PATH = "/api/oauth/v1/token"
PRODUCTS_PATH = "/api/rest/v1/products-uuid"
PRODUCT_MODELS_PATH = "/api/rest/v1/product-models"
# A token is refreshed this long before Akeneo says it expires.
_EXPIRY_MARGIN_SECONDS = 60
# All under TWINWEAR_AKENEO_API_, apart from TWINWEAR_AKENEO_SECRET (the Events API's webhook secret).
_VARIABLES = {
    "url": "TWINWEAR_AKENEO_API_URL",
    "client_id": "TWINWEAR_AKENEO_API_CLIENT_ID",
    "secret": "TWINWEAR_AKENEO_API_SECRET",
    "username": "TWINWEAR_AKENEO_API_USERNAME",
    "password": "TWINWEAR_AKENEO_API_PASSWORD",
}


@dataclasses.dataclass(frozen=True)
class AkeneoApiSettings:
    url: str
    client_id: str
    secret: str
    username: str
    password: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AkeneoApiSettings:
        """Read the settings; raise ConfigError naming every variable that is not set."""
        environ = os.environ if environ is None else environ
        missing = [name for name in _VARIABLES.values() if not environ.get(name, "").strip()]
        if missing:
            raise ConfigError(f"{', '.join(missing)} must be set to use Akeneo's REST API")
        return cls(**{field: environ[name].strip() for field, name in _VARIABLES.items()})


class NotFound(LookupError):
    """The product or product model does not exist (any more) in Akeneo."""


@dataclasses.dataclass
class _Token:
    access: str
    refresh: str
    expires_at: float


class AkeneoClient:
    """Thread-safe: the aggregator's handlers may share one client."""

    def __init__(
        self,
        settings: AkeneoApiSettings | None = None,
        timeout_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``settings``: None reads them from the environment."""
        self._settings = settings or AkeneoApiSettings.from_env()
        self._base = self._settings.url.rstrip("/")
        self._http = httpx.Client(timeout=timeout_seconds, follow_redirects=False)
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._clock = clock

    # -- the port --------------------------------------------------------------------------------

    def get_product(self, uuid: str) -> dict[str, object]:
        """The product (or variant) in Akeneo's standard format, as the Events API's ``data.resource``."""
        return self._get_json(f"{PRODUCTS_PATH}/{quote(uuid, safe='')}")

    def get_product_model(self, code: str) -> dict[str, object]:
        return self._get_json(f"{PRODUCT_MODELS_PATH}/{quote(code, safe='')}")

    # -- the catalogue, for the backfill -----------------------------------------------------------

    def products(self, page_size: int = 100) -> Iterator[RawValue]:
        """Every product, with its exact JSON bytes, page after page (search-after pagination)."""
        return self._pages(PRODUCTS_PATH, page_size)

    def product_models(self, page_size: int = 100) -> Iterator[RawValue]:
        return self._pages(PRODUCT_MODELS_PATH, page_size)

    def close(self) -> None:
        self._http.close()

    def _pages(self, path: str, page_size: int) -> Iterator[RawValue]:
        target: str | None = f"{path}?pagination_type=search_after&limit={page_size}"
        while target:
            body = self._get(target).content
            try:
                page = object_members(body)
                items = array_elements(object_members(page["_embedded"].raw, "_embedded")["items"].raw, "items")
            except (InvalidDelivery, KeyError) as error:
                raise Unavailable("akeneo", f"{path}: not a page of items: {error}") from None
            yield from items
            links = page.get("_links")
            following = links.value.get("next") if links and isinstance(links.value, dict) else None
            target = self._same_server(following["href"]) if isinstance(following, dict) else None

    @staticmethod
    def _same_server(href: str) -> str:
        """The path and query of a link Akeneo gave: requests go to the configured URL only, so
        that the token is never sent elsewhere."""
        parts = urlsplit(href)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    # -- HTTP and tokens ---------------------------------------------------------------------------

    def _get_json(self, path: str) -> dict[str, object]:
        document = self._get(path).json()
        if not isinstance(document, dict):
            raise Unavailable("akeneo", f"{path}: the answer is not a JSON object")
        return document

    def _get(self, path: str) -> httpx.Response:
        response = self._request(path, self._access_token())
        if response.status_code == HTTPStatus.UNAUTHORIZED:  # revoked or expired early: once more, afresh
            response = self._request(path, self._access_token(renew=True))
        if response.status_code == HTTPStatus.NOT_FOUND:
            raise NotFound(f"{path}: not found in Akeneo")
        if response.status_code != HTTPStatus.OK:
            raise Unavailable("akeneo", f"GET {path} answered {response.status_code}: {response.text[:200]}")
        return response

    def _request(self, path: str, token: str) -> httpx.Response:
        try:
            return self._http.get(f"{self._base}{path}", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as error:
            raise Unavailable("akeneo", f"GET {path}: {error}") from error

    def _access_token(self, renew: bool = False) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._grant(self._login)
            elif renew or self._clock() >= self._token.expires_at:
                try:
                    self._token = self._grant({"grant_type": "refresh_token", "refresh_token": self._token.refresh})
                except Unavailable:  # the refresh token expired too: log in again
                    self._token = self._grant(self._login)
            return self._token.access

    @property
    def _login(self) -> dict[str, str]:
        return {"grant_type": "password", "username": self._settings.username, "password": self._settings.password}

    def _grant(self, grant: dict[str, str]) -> _Token:
        try:
            response = self._http.post(
                f"{self._base}{TOKEN_PATH}", json=grant, auth=(self._settings.client_id, self._settings.secret)
            )
        except httpx.HTTPError as error:
            raise Unavailable("akeneo", f"token: {error}") from error
        if response.status_code != HTTPStatus.OK:
            raise Unavailable("akeneo", f"token ({grant['grant_type']}) refused: {response.status_code}")
        document = response.json()
        lifetime = float(document.get("expires_in", 3600))
        expires_at = self._clock() + max(0.0, lifetime - _EXPIRY_MARGIN_SECONDS)
        return _Token(document["access_token"], document.get("refresh_token", ""), expires_at)
