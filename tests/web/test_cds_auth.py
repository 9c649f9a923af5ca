"""CDS Hooks callers authenticated as the specification says: a JWT signed by a configured issuer's key.

A CDS client (an EHR) signs each call with its private key (ES384 here, as CDS Hooks requires
services to support); the server knows the client's public keys from a JWK Set file. Every
check of :mod:`pinchpoint.api.cds_auth` has a token that fails it alone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from pinchpoint.api.cds_auth import CdsAuthError, CdsIssuer, CdsVerifier
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app
from pinchpoint.web.content import WebContent

_ISSUER = "https://ehr.clinic.example"
_HOST = "clinic.example"
_SERVICE = "pinchpoint-triage"
_AUDIENCE = f"https://{_HOST}/cds-services/{_SERVICE}"
_KEY = ec.generate_private_key(ec.SECP384R1())
_OTHER_KEY = ec.generate_private_key(ec.SECP384R1())
_KID = "ehr-key-1"
_REQUEST = {
    "hook": "patient-view",
    "hookInstance": str(uuid.uuid4()),
    "context": {"userId": "Practitioner/example", "patientId": "p1"},
    "prefetch": {"patient": None, "conditions": None, "observations": None},
}


def _jwks(path: Path) -> Path:
    key = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(_KEY.public_key()))
    path.write_text(json.dumps({"keys": [{**key, "kid": _KID, "alg": "ES384", "use": "sig"}]}))
    return path


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": _ISSUER, "aud": _AUDIENCE, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _token(
    claims: dict[str, Any] | None = None, *, key: Any = _KEY, headers: dict[str, Any] | None = None
) -> str:
    return jwt.encode(claims or _claims(), key, algorithm="ES384", headers={"kid": _KID, **(headers or {})})


def _unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, None, algorithm="none", headers={"kid": _KID})


def _hmac_with_public_key(claims: dict[str, Any]) -> str:
    """The classic confusion: an HMAC whose secret is the issuer's public key (known to anyone)."""
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    public = json.dumps(json.loads(jwt.algorithms.ECAlgorithm.to_jwk(_KEY.public_key())))
    signing = part({"alg": "HS256", "typ": "JWT", "kid": _KID}) + "." + part(claims)
    mac = hmac.new(public.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


_REFUSED: dict[str, Callable[[], str]] = {
    "wrong issuer": lambda: _token(_claims(iss="https://elsewhere.example")),
    "expired": lambda: _token(_claims(iat=int(time.time()) - 200, exp=int(time.time()) - 100)),
    "wrong audience": lambda: _token(_claims(aud="https://elsewhere.example/cds-services/pinchpoint-triage")),
    "another service's audience": lambda: _token(_claims(aud=f"https://{_HOST}/cds-services/other")),
    "unsigned (alg none)": lambda: _unsigned(_claims()),
    "HMAC with the public key": lambda: _hmac_with_public_key(_claims()),
    "signed by another key": lambda: _token(key=_OTHER_KEY),
    "unknown kid": lambda: _token(headers={"kid": "nobody"}),
    "jku elsewhere": lambda: _token(headers={"jku": "https://evil.example/jwks.json"}),
    "no jti": lambda: _token(_claims(jti=None)),
    "no iat": lambda: _token(_claims(iat=None)),
    "no exp": lambda: _token(_claims(exp=None)),
    "issued long ago": lambda: _token(_claims(iat=int(time.time()) - 3600)),
    "issued in the future": lambda: _token(_claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 3660)),
    "lives for a day": lambda: _token(_claims(exp=int(time.time()) + 86400)),
    "not a JWT": lambda: "pp_not-a-jwt",
}


@pytest.fixture
def verifier(tmp_path: Path) -> CdsVerifier:
    """A verifier trusting one EHR, its keys in a JWK Set file."""
    return CdsVerifier([CdsIssuer(_ISSUER, str(_jwks(tmp_path / "ehr.jwks")))])


def test_a_token_signed_by_the_configured_issuer_is_accepted(verifier: CdsVerifier) -> None:
    """ES384, the right iss, aud, fresh iat and exp, a new jti: the issuer is returned."""
    assert verifier.verify(_token(), _AUDIENCE) == _ISSUER


@pytest.mark.parametrize("case", sorted(_REFUSED))
def test_a_token_failing_one_check_is_refused(verifier: CdsVerifier, case: str) -> None:
    """Each token fails exactly one check, and is refused with a reason (never the token itself)."""
    token = _REFUSED[case]()
    with pytest.raises(CdsAuthError) as refused:
        verifier.verify(token, _AUDIENCE)
    assert token not in str(refused.value)


def test_a_replayed_token_is_refused(verifier: CdsVerifier) -> None:
    """The same jti twice: the second call is refused."""
    token = _token()
    verifier.verify(token, _AUDIENCE)
    with pytest.raises(CdsAuthError, match="used before"):
        verifier.verify(token, _AUDIENCE)


def test_an_rsa_issuer_is_accepted_with_rs384(tmp_path: Path) -> None:
    """RS384, the other algorithm CDS Hooks requires, works with an RSA key set."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    path = tmp_path / "rsa.jwks"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "r1"}]}))
    verifier = CdsVerifier([CdsIssuer(_ISSUER, str(path))])
    token = jwt.encode(_claims(), key, algorithm="RS384", headers={"kid": "r1"})
    assert verifier.verify(token, _AUDIENCE) == _ISSUER


@pytest.mark.parametrize("source", ["http://ehr.example/jwks.json", "missing.jwks"])
def test_an_unusable_key_source_stops_the_server_from_starting(source: str, tmp_path: Path) -> None:
    """A plain-http key URL or a missing file is refused when the verifier is made."""
    with pytest.raises(CdsAuthError):
        CdsVerifier([CdsIssuer(_ISSUER, str(tmp_path / source) if "://" not in source else source)])


# --- over HTTP ----------------------------------------------------------------------------------------


def _app(tmp_path: Path, knowledge: Knowledge, content: WebContent, **settings: Any) -> Any:
    return create_app(
        Settings(secret_file=str(tmp_path / "secret"), **settings),
        knowledge=knowledge,
        content=content,
        store=Store.open("sqlite://"),
    )


def test_the_cds_services_take_a_valid_jwt_and_refuse_the_rest(
    tmp_path: Path, knowledge: Knowledge, content: WebContent
) -> None:
    """Discovery and a service answer a valid JWT for their own URL; 401 without one or with a bad one."""
    app = _app(
        tmp_path,
        knowledge,
        content,
        host="0.0.0.0",
        allowed_hosts=(_HOST,),
        behind_tls_proxy=True,
        cds_issuers=((_ISSUER, str(_jwks(tmp_path / "ehr.jwks"))),),
    )
    client = TestClient(app, base_url=f"https://{_HOST}", client=("198.51.100.9", 443))
    discovery = _token(_claims(aud=f"https://{_HOST}/cds-services"))
    assert client.get("/cds-services", headers={"authorization": f"Bearer {discovery}"}).status_code == 200
    called = client.post(
        f"/cds-services/{_SERVICE}", json=_REQUEST, headers={"authorization": f"Bearer {_token()}"}
    )
    assert called.status_code == 200, called.text
    feedback = client.post(
        f"/cds-services/{_SERVICE}/feedback",
        json={"feedback": []},
        headers={"authorization": f"Bearer {_token()}"},
    )
    assert feedback.status_code == 200
    for case in ("wrong issuer", "expired", "wrong audience", "unsigned (alg none)"):
        response = client.post(
            f"/cds-services/{_SERVICE}",
            json=_REQUEST,
            headers={"authorization": f"Bearer {_REFUSED[case]()}"},
        )
        assert response.status_code == 401, case
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert client.post(f"/cds-services/{_SERVICE}", json=_REQUEST).status_code == 401


def test_without_issuers_the_cds_services_are_open_on_loopback_only(
    tmp_path: Path, knowledge: Knowledge, content: WebContent
) -> None:
    """No CDS client configured: the local owner may call them on loopback; off loopback nobody may."""
    loopback = TestClient(_app(tmp_path, knowledge, content), base_url="http://127.0.0.1:8000")
    assert loopback.post(f"/cds-services/{_SERVICE}", json=_REQUEST).status_code == 200
    network = _app(
        tmp_path, knowledge, content, host="0.0.0.0", allowed_hosts=(_HOST,), behind_tls_proxy=True
    )
    client = TestClient(network, base_url=f"https://{_HOST}", client=("127.0.0.1", 5000))
    assert client.get("/cds-services").status_code == 401
    assert client.post(f"/cds-services/{_SERVICE}", json=_REQUEST).status_code == 401
