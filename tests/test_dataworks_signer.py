"""ACS3-HMAC-SHA256 signing checked against canonical requests written out by hand from spec 2.4.

The expected strings are literals; the expected signatures are computed here with
hashlib/hmac from those literals, never by the code under test.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from opscenter.backends.dataworks import signer

AK_ID = "LTAI5tExampleKeyId"
AK_SECRET = "exampleSecret123"
EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
FORM_BODY = b"Comment=rerun+it%2C+please&Ids=%5B1%2C2%5D&UseLatestConfig=true"
FORM_SHA = "224735859fad15d5f23572d1804da974abd00e0c0d0115014985be01ee30dca9"


def expected_authorization(canonical: str, signed_headers: str, secret: str = AK_SECRET) -> str:
    """Steps 6-8 of spec 2.4 done independently of the signer."""
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    sig = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"ACS3-HMAC-SHA256 Credential={AK_ID},SignedHeaders={signed_headers},Signature={sig}"


def common_headers(action: str, content_sha: str) -> dict[str, str]:
    return {
        "Host": "dataworks.cn-shanghai.aliyuncs.com",
        "X-Acs-Action": action,
        "x-acs-version": "2024-05-18",
        "x-acs-date": "2025-01-02T03:04:05Z",
        "x-acs-signature-nonce": "0123456789abcdef0123456789abcdef",
        "x-acs-content-sha256": content_sha,
    }


GET_QUERY = {
    "TaskName": "daily sales*~v2 (é)",
    "Ids": "[1001,1002]",
    "owner": "x",
    "Owner": "a+b/c=d&e",
}
GET_CANONICAL_QUERY = (
    "Ids=%5B1001%2C1002%5D&Owner=a%2Bb%2Fc%3Dd%26e"
    "&TaskName=daily%20sales%2A~v2%20%28%C3%A9%29&owner=x"
)
GET_CANONICAL = (
    "GET\n"
    "/\n"
    f"{GET_CANONICAL_QUERY}\n"
    "accept:application/json\n"
    "host:dataworks.cn-shanghai.aliyuncs.com\n"
    "x-acs-action:ListTaskInstances\n"
    f"x-acs-content-sha256:{EMPTY_SHA}\n"
    "x-acs-date:2025-01-02T03:04:05Z\n"
    "x-acs-signature-nonce:0123456789abcdef0123456789abcdef\n"
    "x-acs-version:2024-05-18\n"
    "\n"
    "accept;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
    f"{EMPTY_SHA}"
)
GET_SIGNED = (
    "accept;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
)


def get_headers() -> dict[str, str]:
    return {**common_headers("ListTaskInstances", EMPTY_SHA), "Accept": "  application/json "}


POST_CANONICAL = (
    "POST\n"
    "/\n"
    "\n"
    "content-type:application/x-www-form-urlencoded\n"
    "host:dataworks.cn-shanghai.aliyuncs.com\n"
    "x-acs-action:RerunTaskInstances\n"
    f"x-acs-content-sha256:{FORM_SHA}\n"
    "x-acs-date:2025-01-02T03:04:05Z\n"
    "x-acs-signature-nonce:0123456789abcdef0123456789abcdef\n"
    "x-acs-version:2024-05-18\n"
    "\n"
    "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
    f"{FORM_SHA}"
)
POST_SIGNED = (
    "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;"
    "x-acs-signature-nonce;x-acs-version"
)


def post_headers() -> dict[str, str]:
    return {
        **common_headers("RerunTaskInstances", FORM_SHA),
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),
        ("*", "%2A"),
        ("~", "~"),
        ("[1,2]", "%5B1%2C2%5D"),
        ("AZaz09-_.", "AZaz09-_."),
        ("+/=&:", "%2B%2F%3D%26%3A"),
        ("é", "%C3%A9"),
        ("", ""),
    ],
)
def test_percent_encoding_leaves_only_unreserved(raw: str, encoded: str) -> None:
    assert signer.percent_encode(raw) == encoded


def test_hashed_payload_of_empty_and_form_body() -> None:
    assert signer.hashed_payload(b"") == EMPTY_SHA
    assert signer.hashed_payload(FORM_BODY) == FORM_SHA


def test_canonical_query_sorts_by_key_bytes_and_encodes() -> None:
    assert signer.canonical_query(GET_QUERY) == GET_CANONICAL_QUERY
    assert signer.canonical_query({}) == ""


def test_canonical_headers_lowercase_trim_sort_and_join_duplicates() -> None:
    lines, signed = signer.canonical_headers({"X-B": " 2 ", "x-a": "1", "x-b": "3"})
    assert lines == "x-a:1\nx-b:2,3\n"
    assert signed == "x-a;x-b"


def test_get_with_awkward_query_matches_hand_worked_canonical_request() -> None:
    assert signer.canonical_request("GET", "/", GET_QUERY, get_headers(), b"") == GET_CANONICAL
    got = signer.authorization("GET", GET_QUERY, get_headers(), b"", AK_ID, AK_SECRET)
    assert got == expected_authorization(GET_CANONICAL, GET_SIGNED)


def test_post_form_body_matches_hand_worked_canonical_request() -> None:
    assert signer.canonical_request("post", "/", {}, post_headers(), FORM_BODY) == POST_CANONICAL
    got = signer.authorization("POST", {}, post_headers(), FORM_BODY, AK_ID, AK_SECRET)
    assert got == expected_authorization(POST_CANONICAL, POST_SIGNED)


def test_post_with_query_and_body_puts_both_in_the_canonical_request() -> None:
    canonical = POST_CANONICAL.replace("POST\n/\n\n", "POST\n/\nId=7&ProjectEnv=Prod\n", 1)
    got = signer.authorization(
        "POST", {"ProjectEnv": "Prod", "Id": "7"}, post_headers(), FORM_BODY, AK_ID, AK_SECRET
    )
    assert got == expected_authorization(canonical, POST_SIGNED)


def test_signs_exactly_the_headers_given() -> None:
    """A header left out of the mapping is neither listed nor covered by the signature."""
    headers = get_headers()
    del headers["Accept"]
    canonical = GET_CANONICAL.replace("accept:application/json\n", "").replace("accept;", "")
    got = signer.authorization("GET", GET_QUERY, headers, b"", AK_ID, AK_SECRET)
    assert got == expected_authorization(canonical, GET_SIGNED.removeprefix("accept;"))


def test_a_different_secret_gives_a_different_signature() -> None:
    right = signer.authorization("GET", GET_QUERY, get_headers(), b"", AK_ID, AK_SECRET)
    wrong = signer.authorization("GET", GET_QUERY, get_headers(), b"", AK_ID, "not-the-secret")
    assert right != wrong
    assert wrong == expected_authorization(GET_CANONICAL, GET_SIGNED, "not-the-secret")


def test_parse_authorization_round_trip() -> None:
    value = signer.authorization("POST", {}, post_headers(), FORM_BODY, AK_ID, AK_SECRET)
    key_id, names, sig = signer.parse_authorization(value)
    assert key_id == AK_ID
    assert names == POST_SIGNED.split(";")
    assert value.endswith(f"Signature={sig}")


@pytest.mark.parametrize(
    "value",
    ["", "HMAC-SHA1 Credential=a,SignedHeaders=host,Signature=x", "ACS3-HMAC-SHA256 Credential=a"],
)
def test_parse_authorization_rejects_malformed_values(value: str) -> None:
    with pytest.raises(ValueError):
        signer.parse_authorization(value)
