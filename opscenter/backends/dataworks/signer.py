"""ACS3-HMAC-SHA256 request signing (spec 2.4).

Each step of the canonical request is a small pure function so the emulator can
recompute a received request's signature with the same code the client signs with.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of the UTF-8 bytes: only ``A-Z a-z 0-9 - _ . ~`` stay as they are."""
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(query: Mapping[str, str]) -> str:
    """``key=enc(value)`` sorted by key bytes, joined by ``&``; also the exact query to send."""
    pairs = sorted(query.items(), key=lambda item: item[0].encode())
    return "&".join(f"{percent_encode(key)}={percent_encode(value)}" for key, value in pairs)


def canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """(CanonicalHeaders, SignedHeaders) over exactly the given headers.

    Names are lower-cased and sorted, values trimmed; names that differ only in case
    are joined with ``,`` as duplicates are.
    """
    merged: dict[str, list[str]] = {}
    for name, value in headers.items():
        merged.setdefault(name.strip().lower(), []).append(value.strip())
    names = sorted(merged)
    lines = "".join(f"{name}:{','.join(merged[name])}\n" for name in names)
    return lines, ";".join(names)


def hashed_payload(body: bytes) -> str:
    """Lowercase hex SHA-256 of the exact body bytes (the ``x-acs-content-sha256`` value)."""
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    pathname: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """The six canonical lines; CanonicalHeaders ends with a newline of its own."""
    header_lines, signed = canonical_headers(headers)
    return "\n".join(
        [
            method.upper(),
            pathname,
            canonical_query(query),
            header_lines,
            signed,
            hashed_payload(body),
        ]
    )


def string_to_sign(request: str) -> str:
    """The algorithm name and the hex SHA-256 of the canonical request."""
    return f"{ALGORITHM}\n{hashlib.sha256(request.encode()).hexdigest()}"


def signature(access_key_secret: str, to_sign: str) -> str:
    """Lowercase hex HMAC-SHA256 of the string to sign, keyed by the secret."""
    return hmac.new(access_key_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(
    method: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    access_key_id: str,
    access_key_secret: str,
    pathname: str = "/",
) -> str:
    """The ``Authorization`` header value for a request with exactly these pieces."""
    request = canonical_request(method, pathname, query, headers, body)
    _, signed = canonical_headers(headers)
    sig = signature(access_key_secret, string_to_sign(request))
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed},Signature={sig}"


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """(access key id, signed header names, signature) from an Authorization value.

    Raises ValueError when the value is not an ACS3-HMAC-SHA256 authorization, so a
    verifier can answer with the gateway's error instead of crashing.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme != ALGORITHM:
        raise ValueError(f"unsupported authorization scheme {scheme!r}")
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    try:
        credential, signed, sig = (
            fields["Credential"],
            fields["SignedHeaders"],
            fields["Signature"],
        )
    except KeyError as missing:
        raise ValueError(f"authorization lacks {missing.args[0]}") from None
    return credential, signed.split(";"), sig
