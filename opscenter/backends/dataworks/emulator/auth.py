"""Who may call: V3 (ACS3-HMAC-SHA256) or V2 (HMAC-SHA1) signatures checked against known
access keys, with the clock-skew and nonce rules of the gateway (spec 2.4, 2.5, 7)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from opscenter.backends.dataworks import signer
from opscenter.backends.dataworks.emulator.wire import ApiFailure, Incoming, invalid, missing

MAX_SKEW = timedelta(minutes=15)
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class Verifier:
    """Checks V3 (or V2) signatures against known access keys; remembers nonces."""

    credentials: Mapping[str, str]  # access key id -> secret
    wall: Callable[[], datetime] = lambda: datetime.now(UTC)
    _nonces: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, request: Incoming) -> None:
        if "Signature" in request.params:
            self._verify_v2(request)
        else:
            self._verify_v3(request)

    def _verify_v3(self, request: Incoming) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise ApiFailure(
                400, "MissingParameter", "The Authorization header (or a V2 Signature) is required."
            )
        try:
            key_id, signed_names, given = signer.parse_authorization(header)
        except ValueError as exc:
            raise ApiFailure(400, "InvalidParameter", f"Authorization: {exc}.") from None
        secret = self._secret(key_id)
        self._check_signed_headers(request, signed_names)
        if request.headers["x-acs-content-sha256"] != signer.hashed_payload(request.body):
            raise ApiFailure(
                400, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the body."
            )
        signed = {name: request.headers[name] for name in signed_names}
        canonical = signer.canonical_request(
            request.method, "/", request.query, signed, request.body
        )
        to_sign = signer.string_to_sign(canonical)
        if not _same(signer.signature(secret, to_sign), given.lower()):
            raise _mismatch(to_sign)
        self._check_fresh(request.headers["x-acs-date"], "x-acs-date")
        self._use_nonce(request.headers["x-acs-signature-nonce"])

    @staticmethod
    def _check_signed_headers(request: Incoming, signed_names: list[str]) -> None:
        """host, date, nonce and body hash must be signed, and so must every x-acs-* sent."""
        required = {"host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}
        sent_acs = {name for name in request.headers if name.startswith("x-acs-")}
        for name in sorted(required | sent_acs):
            if name not in request.headers:
                raise ApiFailure(400, "MissingParameter", f"The header {name!r} is required.")
            if name not in signed_names:
                raise ApiFailure(
                    400, "SignatureDoesNotMatch", f"The header {name!r} must be signed."
                )
        for name in signed_names:
            if name not in request.headers:
                raise ApiFailure(
                    400, "SignatureDoesNotMatch", f"The signed header {name!r} was not sent."
                )

    def _verify_v2(self, request: Incoming) -> None:
        params = request.params
        for name in ("AccessKeyId", "Timestamp", "SignatureNonce", "SignatureMethod"):
            if not params.get(name):
                raise missing(name)
        if params["SignatureMethod"] != "HMAC-SHA1":
            raise invalid("SignatureMethod", "only HMAC-SHA1 is supported")
        secret = self._secret(params["AccessKeyId"])
        pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
        canonical = "&".join(
            f"{signer.percent_encode(k)}={signer.percent_encode(v)}" for k, v in pairs
        )
        to_sign = (
            f"{request.method}&{signer.percent_encode('/')}&{signer.percent_encode(canonical)}"
        )
        digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
        if not _same(base64.b64encode(digest).decode(), params["Signature"]):
            raise _mismatch(to_sign)
        self._check_fresh(params["Timestamp"], "Timestamp")
        self._use_nonce(params["SignatureNonce"])

    def _secret(self, key_id: str) -> str:
        secret = self.credentials.get(key_id)
        if secret is None:
            raise ApiFailure(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        return secret

    def _check_fresh(self, stamp: str, name: str) -> None:
        try:
            when = datetime.strptime(stamp, ISO_UTC).replace(tzinfo=UTC)
        except ValueError:
            raise ApiFailure(
                400, "InvalidTimeStamp.Format", f"{name} must be yyyy-MM-ddTHH:mm:ssZ (UTC)."
            ) from None
        if abs(self.wall() - when) > MAX_SKEW:
            raise ApiFailure(
                400,
                "InvalidTimeStamp.Expired",
                f"Specified time stamp or date value is expired: {stamp} is more than "
                "15 minutes from the server's time.",
            )

    def _use_nonce(self, nonce: str) -> None:
        """A nonce is kept as long as a request carrying it could still be fresh."""
        now = self.wall()
        with self._lock:
            for old in [n for n, seen in self._nonces.items() if now - seen > 2 * MAX_SKEW]:
                del self._nonces[old]
            if nonce in self._nonces:
                raise ApiFailure(
                    400, "SignatureNonceUsed", "Specified signature nonce was used already."
                )
            self._nonces[nonce] = now


def _same(expected: str, given: str) -> bool:
    """A constant-time comparison that also takes a non-ASCII signature (as bytes: on
    strings ``compare_digest`` raises TypeError) - it simply does not match."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _mismatch(to_sign: str) -> ApiFailure:
    return ApiFailure(
        400,
        "SignatureDoesNotMatch",
        "Specified signature does not match our calculation. "
        f"The server string to sign is: {to_sign!r}",
    )
