"""A signed, retrying HTTP client for the DataWorks OpenAPI (spec 2.1-2.7).

The Backend calls it from the console's worker threads, so it is synchronous
(``httpx.Client`` is safe to share between threads). It knows the wire rules and
nothing about operations: callers name the action, the method and where each
parameter goes, as the spec's per-operation tables say.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from opscenter import secrets
from opscenter.backends.dataworks import signer

log = logging.getLogger(__name__)

ENV_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"
# what a console over DataWorks keeps, out of its environment (opscenter.secrets)
KEPT = secrets.Kept(frozenset({ENV_KEY_ID, ENV_KEY_SECRET, ENV_SECURITY_TOKEN}))
CLI_CONFIG = Path("~/.aliyun/config.json")
FORM = "application/x-www-form-urlencoded"
# A 5xx that is a standing condition, not a hiccup: retrying only burns quota.
PERMANENT_SERVER_CODES = frozenset({"Forbidden.Not.Server"})
# An answer about an id or name that is not there (HTTP 404; the emulator's word for it).
NOT_FOUND = "ResourceNotFound"


class DataWorksError(Exception):
    """Anything that stops a DataWorks call; the message is meant for the operator."""


class NoAnswer(DataWorksError):
    """The request went out but no answer came: DataWorks may have done what it asked."""


class CredentialsError(DataWorksError):
    """No usable access key was found."""


class ApiError(DataWorksError):
    """An error answer from DataWorks or its gateway (spec 2.6)."""

    def __init__(
        self,
        code: str,
        message: str,
        request_id: str,
        status: int,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, request_id, status)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code}: {self.message} (request id {self.request_id or 'none'})"

    @property
    def retryable(self) -> bool:
        """Throttling and transient server errors; business errors would fail again."""
        if self.status == 429 or self.code.startswith("Throttling"):
            return True
        return self.status >= 500 and self.code not in PERMANENT_SERVER_CODES


@dataclass(frozen=True)
class Credentials:
    """An access key; the secret and token are kept out of repr so they never reach a log."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def secrets(self) -> list[str]:
        """The values that must be scrubbed from anything shown."""
        return [s for s in (self.access_key_secret, self.security_token) if s]


def load_credentials(
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Credentials:
    """Environment variables first (as the SDKs do), then the Alibaba Cloud CLI profile."""
    env = secrets.environment() if environ is None else environ
    path = (config_path or CLI_CONFIG).expanduser()
    if profile is None and (env.get(ENV_KEY_ID) or env.get(ENV_KEY_SECRET)):
        return _from_env(env)
    if path.is_file():
        return _from_cli_config(path, profile)
    raise CredentialsError(
        f"no DataWorks credentials: set {ENV_KEY_ID} and {ENV_KEY_SECRET} "
        f"(and {ENV_SECURITY_TOKEN} for STS), or configure a profile in {path} "
        "with `aliyun configure`"
    )


def _from_env(env: Mapping[str, str]) -> Credentials:
    missing = [name for name in (ENV_KEY_ID, ENV_KEY_SECRET) if not env.get(name)]
    if missing:
        raise CredentialsError(f"{missing[0]} is not set (both {ENV_KEY_ID} and {ENV_KEY_SECRET})")
    return Credentials(env[ENV_KEY_ID], env[ENV_KEY_SECRET], env.get(ENV_SECURITY_TOKEN) or None)


def _from_cli_config(path: Path, profile: str | None) -> Credentials:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read {path}: {exc}") from None
    name = profile or config.get("current") or "default"
    profiles = {p.get("name"): p for p in config.get("profiles", [])}
    if name not in profiles:
        known = ", ".join(sorted(str(n) for n in profiles)) or "none"
        raise CredentialsError(f"profile {name!r} not found in {path} (profiles: {known})")
    chosen = profiles[name]
    mode = chosen.get("mode", "AK")
    if mode not in ("AK", "StsToken"):
        raise CredentialsError(
            f"profile {name!r} in {path} uses mode {mode!r}; only AK and StsToken are supported"
        )
    key_id, secret = chosen.get("access_key_id"), chosen.get("access_key_secret")
    token = chosen.get("sts_token") if mode == "StsToken" else None
    if not key_id or not secret or (mode == "StsToken" and not token):
        raise CredentialsError(f"profile {name!r} in {path} has no complete {mode} access key")
    return Credentials(key_id, secret, token)


def region_endpoint(region: str) -> str:
    """The public endpoint of a mainstream region; pass an explicit endpoint for the others."""
    return f"https://dataworks.{region}.aliyuncs.com"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry throttling and 5xx: attempts in all, and the sleep schedule's cap."""

    max_attempts: int = 4
    base_sleep: float = 1.0
    max_sleep: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, retry: int) -> float:
        """Sleep before the ``retry``-th retry (1-based): doubling, capped."""
        return min(self.max_sleep, self.base_sleep * 2 ** (retry - 1))


def serialize(value: Any) -> str | None:
    """One parameter as the wire wants it (spec 2.3); None means leave the parameter out."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raise TypeError(f"cannot send a {type(value).__name__} as a DataWorks parameter")


def serialize_all(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Serialize every parameter, dropping the None ones (spec 2.4: null params are dropped)."""
    encoded = {key: serialize(value) for key, value in (params or {}).items()}
    return {key: value for key, value in encoded.items() if value is not None}


def _lenient_int(value: Any) -> int | None:
    """Paging numbers arrive as ints or strings depending on the operation (spec 2.7)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class DataWorksClient:
    """Calls DataWorks operations: signs, sends, retries and decodes."""

    def __init__(
        self,
        credentials: Credentials,
        endpoint: str,
        *,
        version: str = "2024-05-18",
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._credentials = credentials
        self._endpoint = endpoint.rstrip("/")
        self._host = httpx.URL(self._endpoint).netloc.decode("ascii")
        self.version = version
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"DataWorksClient({self._endpoint!r}, {self._credentials!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DataWorksClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "POST",
        query: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> dict[str, Any]:
        """Run one operation and return its JSON answer.

        ``params`` go in the form body of a POST and in the query string of a GET;
        ``query`` always goes in the query string (the spec's ``[q]`` parameters).
        Throttling and transient 5xx answers are retried; anything else raises ApiError.
        """
        method = method.upper()
        in_query = serialize_all(query)
        in_body = serialize_all(params)
        if method == "GET":
            in_query, in_body = {**in_query, **in_body}, {}
        body = urlencode(sorted(in_body.items())).encode() if in_body else b""
        attempt = 1
        while True:
            try:
                return self._attempt(action, version or self.version, method, in_query, body)
            except ApiError as error:
                delay = self._delay_before_retry(error, attempt)
                if delay is None:
                    raise
                log.info("%s: %s; retrying in %.1f s", action, error, delay)
                self._sleep(delay)
                attempt += 1

    def iter_items(
        self,
        action: str,
        items_key: str,
        params: Mapping[str, Any] | None = None,
        *,
        container: str = "PagingInfo",
        page_size: int = 100,
        paging_in_query: bool = False,
        method: str = "POST",
        query: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> Iterator[Any]:
        """Yield every item of a paged list, fetching page after page (spec 2.7).

        ``container`` is where the page sits in the answer (``PagingInfo`` in 2024,
        ``Data``, ``PageResult`` or ``Paging`` in 2020); ``paging_in_query`` puts
        PageNumber/PageSize in the query string for operations that read them there.
        """
        seen = 0
        page_number = 1
        while True:
            paging = {"PageNumber": page_number, "PageSize": page_size}
            page_params = dict(params or {})
            page_query = dict(query or {})
            (page_query if paging_in_query else page_params).update(paging)
            answer = self.call(
                action, page_params, method=method, query=page_query, version=version
            )
            page = answer.get(container) or {}
            items = page.get(items_key) or []
            yield from items
            seen += len(items)
            if not items or self._is_last_page(page, len(items), seen, page_size):
                return
            page_number += 1

    @staticmethod
    def _is_last_page(page: Mapping[str, Any], count: int, seen: int, asked: int) -> bool:
        """TotalCount when given; otherwise a page shorter than the size the server used."""
        total = _lenient_int(page.get("TotalCount"))
        if total is not None:
            return seen >= total
        return count < (_lenient_int(page.get("PageSize")) or asked)

    def _delay_before_retry(self, error: ApiError, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None to give up now.

        A server-requested wait beyond the cap gives up at once: retrying sooner would
        only be throttled again, and failed calls count against the daily quota.
        """
        if not error.retryable or attempt >= self._retry.max_attempts:
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self._retry.max_sleep else None
        return self._retry.backoff(attempt)

    def _attempt(
        self, action: str, version: str, method: str, query: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        """Sign and send once; a fresh date and nonce each time so a retry is not a replay."""
        headers = self._signed_headers(action, version, body)
        headers["authorization"] = signer.authorization(
            method,
            query,
            headers,
            body,
            self._credentials.access_key_id,
            self._credentials.access_key_secret,
        )
        headers["accept"] = "application/json"
        url = f"{self._endpoint}/"
        if query:
            url += "?" + signer.canonical_query(query)
        try:
            response = self._http.request(method, url, headers=headers, content=body)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise DataWorksError(f"cannot reach {self._endpoint} in time") from exc
        except httpx.TimeoutException as exc:
            raise NoAnswer(f"{self._endpoint} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise DataWorksError(f"cannot reach {self._endpoint}: {exc}") from exc
        return self._decode(response)

    def _signed_headers(self, action: str, version: str, body: bytes) -> dict[str, str]:
        """host, the x-acs-* headers and content-type: the set spec 2.4 requires signed."""
        headers = {
            "host": self._host,
            "x-acs-action": action,
            "x-acs-version": version,
            "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": uuid.uuid4().hex,
            "x-acs-content-sha256": signer.hashed_payload(body),
        }
        if body:
            headers["content-type"] = FORM
        if self._credentials.security_token:
            headers["x-acs-security-token"] = self._credentials.security_token
        return headers

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON answer of a success, or ApiError for the error shapes of spec 2.6."""
        header_request_id = response.headers.get("x-acs-request-id", "")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ApiError(
                f"HTTP{response.status_code}",
                self._scrub(f"answer is not a JSON object: {response.text[:200]!r}"),
                header_request_id,
                response.status_code,
            )
        request_id = str(data.get("RequestId") or data.get("requestId") or header_request_id)
        if response.status_code >= 400:
            message = data.get("Message") or data.get("message") or response.reason_phrase
            raise ApiError(
                str(data.get("Code") or data.get("code") or f"HTTP{response.status_code}"),
                self._scrub(str(message)),
                request_id,
                response.status_code,
                self._retry_after(response),
            )
        if str(data.get("Success", "")).lower() == "false":
            raise ApiError(
                str(data.get("ErrorCode") or data.get("Code") or "Failure"),
                self._scrub(str(data.get("ErrorMessage") or data.get("Message") or "")),
                request_id,
                _lenient_int(data.get("HttpStatusCode")) or response.status_code,
            )
        return data

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        """``x-acs-retry-after`` seconds when present and positive."""
        seconds = _lenient_int(response.headers.get("x-acs-retry-after"))
        return float(seconds) if seconds and seconds > 0 else None

    def _scrub(self, text: str) -> str:
        """Remove our secret or token should a server ever echo them back."""
        for secret in self._credentials.secrets():
            text = text.replace(secret, "***")
        return text
