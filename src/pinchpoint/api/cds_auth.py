"""Who may call the CDS services: a JWT signed by a trusted CDS client, as CDS Hooks 2.0 requires.

Each call of a CDS client (discovery, a service, its feedback) carries
``Authorization: Bearer <JWT>``, signed with the client's private key. :class:`CdsVerifier` accepts
it only when:

* its ``iss`` is a configured issuer, and the signature verifies with a key of that issuer's
  JWK Set (a file, or an ``https://`` URL fetched and cached), chosen by ``kid``; a ``jku``
  header is accepted only when it names that same configured URL (keys are never fetched from
  an address the token itself names);
* its algorithm is an asymmetric one (``RS*``, ``PS*``, ``ES*``, ``EdDSA``): never ``none`` and
  never an HMAC (a public key must not be usable as a shared secret);
* ``aud`` names the service endpoint called (``https://host/cds-services/{id}``; for discovery,
  ``https://host/cds-services``);
* ``exp``, ``iat`` and ``jti`` are present, ``iat`` is at most :data:`MAX_AGE` old (and not in
  the future), ``exp`` is in the future and at most :data:`MAX_AGE` ahead, all within
  :data:`LEEWAY` of clock skew, and the ``jti`` has not been seen before while it was valid
  (a replayed token is refused).

It raises :class:`CdsAuthError` (HTTP 401) naming the check that failed, never the token.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from pinchpoint.errors import InputError
from pinchpoint.io.readers import load_json, read_regular_file

__all__ = ["ALGORITHMS", "LEEWAY", "MAX_AGE", "CdsAuthError", "CdsIssuer", "CdsVerifier"]

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Accepted signature algorithms: CDS Hooks requires ES384 and RS384; other asymmetric ones are as safe."""
MAX_AGE = 300
"""Seconds a token may live (``iat`` to now, and now to ``exp``): CDS Hooks recommends five minutes."""
LEEWAY = 30
"""Seconds of clock difference tolerated between the CDS client and this server."""
_MAX_TOKEN = 16_384
_MAX_SEEN = 100_000


class CdsAuthError(InputError):
    """A CDS call's authorization is missing or not acceptable (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class CdsIssuer:
    """A trusted CDS client: its ``iss`` and where its public keys are (a JWKS file or https URL)."""

    issuer: str
    jwks: str


class _Keys:
    """The public keys of one issuer: a JWK Set read once from a file, or fetched and cached from a URL."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.url = source if source.startswith("https://") else None
        if self.url is not None:
            self._client: jwt.PyJWKClient | None = jwt.PyJWKClient(self.url, lifespan=300, timeout=5)
            self._set: jwt.PyJWKSet | None = None
            return
        if "://" in source:
            raise CdsAuthError(
                "a CDS issuer's keys must be a file or an https:// URL",
                location="--cds-issuer",
                expected="ISSUER=FILE or ISSUER=https://...",
                got=source,
            )
        self._client = None
        self._set = _read_key_set(source)

    def key(self, header: Mapping[str, Any]) -> Any:
        """Return the key that signed a token with this header."""
        kid = header.get("kid")
        if self._client is not None:
            if kid is None:
                keys = self._client.get_signing_keys()
                if len(keys) != 1:
                    raise _refused("the token names no key (kid) and the issuer has several")
                return keys[0].key
            return self._client.get_signing_key(str(kid)).key
        assert self._set is not None
        if kid is None:
            if len(self._set.keys) != 1:
                raise _refused("the token names no key (kid) and the issuer has several")
            return self._set.keys[0].key
        for key in self._set.keys:
            if key.key_id == kid:
                return key.key
        raise _refused("the token's key (kid) is not among the issuer's keys")


_JWKS_EXPECTED = 'a JSON Web Key Set ({"keys": [...]}) of public keys'
_MAX_JWKS_BYTES = 1024 * 1024
"""The largest JWK Set file read: a set of a few public keys is some kilobytes."""


def _read_key_set(source: str) -> jwt.PyJWKSet:
    """Read a JWK Set file strictly: a regular file of JSON (not a pipe or a device), an object of keys.

    Raises:
        CdsAuthError: The file cannot be read, is not JSON, not a JSON object, or holds no usable key.
    """
    data = read_regular_file(
        source,
        error=CdsAuthError,
        what="a CDS issuer's JWK Set",
        expected=_JWKS_EXPECTED,
        limit=_MAX_JWKS_BYTES,
    )
    document = load_json(data, origin=source, error=CdsAuthError, expected=_JWKS_EXPECTED)
    if not isinstance(document, dict):
        raise CdsAuthError(
            "a CDS issuer's JWK Set is not a JSON object",
            location=source,
            expected=_JWKS_EXPECTED,
            got=type(document).__name__,
        )
    try:
        return jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError as exc:
        raise CdsAuthError(
            "a CDS issuer's JWK Set cannot be read",
            location=source,
            expected=_JWKS_EXPECTED,
            got=str(exc)[:200],
        ) from exc


class CdsVerifier:
    """Checks the JWT of each CDS call against the configured issuers.

    Args:
        issuers: The trusted CDS clients; with none, every token is refused.
        clock: Returns the current time in seconds since the epoch (tests pass their own).

    Raises:
        CdsAuthError: An issuer's key file cannot be read (at construction, so a server with a
            broken configuration does not start).
    """

    def __init__(self, issuers: Sequence[CdsIssuer], *, clock: Callable[[], float] = time.time) -> None:
        self._keys = {issuer.issuer: _Keys(issuer.jwks) for issuer in issuers}
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether any CDS client is trusted."""
        return bool(self._keys)

    def verify(self, token: str, audience: str) -> str:
        """Return the issuer of a valid token for ``audience``; refuse anything else.

        Raises:
            CdsAuthError: The token is malformed, unsigned, signed by an unknown issuer or key,
                for another audience, expired, too old or too long-lived, or replayed.
        """
        if len(token) > _MAX_TOKEN:
            raise _refused("the token is too long")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise _refused("the token is not a JWT") from exc
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise _refused(
                f"the signature algorithm {algorithm!r} is not accepted", expected=", ".join(ALGORITHMS)
            )
        issuer = claims.get("iss")
        keys = self._keys.get(issuer) if isinstance(issuer, str) else None
        if keys is None:
            raise _refused("the token's issuer (iss) is not a trusted CDS client")
        if "jku" in header and header["jku"] != keys.url:
            raise _refused("the token's key URL (jku) is not the one configured for its issuer")
        try:
            verified = jwt.decode(
                token,
                keys.key(header),
                algorithms=[str(algorithm)],
                audience=audience,
                issuer=issuer,
                leeway=LEEWAY,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _refused("the token has expired (exp)") from exc
        except jwt.InvalidAudienceError as exc:
            raise _refused("the token is for another audience (aud)", expected=audience) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise _refused(
                f"the token lacks the claim {exc.claim!r}", expected="iss, aud, exp, iat, jti"
            ) from exc
        except jwt.PyJWTError as exc:
            raise _refused(f"the token is not valid: {type(exc).__name__}") from exc
        self._check_times(verified)
        self._check_fresh(str(issuer), verified)
        return str(issuer)

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock()
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            raise _refused("the token's times (iat, exp) are not numbers")
        if issued > now + LEEWAY:
            raise _refused("the token was issued in the future (iat)")
        if now - issued > MAX_AGE + LEEWAY:
            raise _refused(f"the token was issued more than {MAX_AGE} seconds ago (iat)")
        if expires - now > MAX_AGE + LEEWAY:
            raise _refused(f"the token lives longer than {MAX_AGE} seconds (exp)")

    def _check_fresh(self, issuer: str, claims: Mapping[str, Any]) -> None:
        """Refuse a ``jti`` already used by this issuer while it is still valid (a replay)."""
        key = json.dumps([issuer, str(claims["jti"])])
        now = self._clock()
        with self._lock:
            if len(self._seen) >= _MAX_SEEN:
                self._seen = {k: until for k, until in self._seen.items() if until > now}
            if key in self._seen and self._seen[key] > now:
                raise _refused("the token was used before (jti): each call needs a new one")
            self._seen[key] = float(claims["exp"]) + LEEWAY


def _refused(problem: str, *, expected: str = "") -> CdsAuthError:
    return CdsAuthError(
        problem,
        location="Authorization",
        expected=expected or "a JWT signed by a trusted CDS client, as CDS Hooks 2.0 requires",
    )
