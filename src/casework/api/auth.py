"""Bearer tokens: JWTs with the claims of CONTRACT.md, checked for issuer, audience and expiry."""

from __future__ import annotations

import os
import secrets
import time
from typing import Annotated, Any

import jwt
import msgspec

from casework.domain.commands import Actor, Role, ShortText, Slug
from casework.domain.errors import CaseworkError, ValidationFailed
from casework.settings import Settings

ALGORITHM = "HS256"
LIFETIME = 12 * 3600


class NotAuthenticated(CaseworkError):
    code = "not_authenticated"


class Claims(msgspec.Struct, frozen=True, kw_only=True):
    # The actor's limits: an actor travels into every event and through Temporal, where a value
    # over its limit would fail a workflow task for ever rather than a request now.
    sub: ShortText
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    role: Role
    area: Slug = "*"
    team: Slug | None = None
    partner: Slug | None = None


def auth_secret(settings: Settings) -> str:
    """The configured secret, or the development secret in the data dir (made once)."""
    if settings.auth_secret:
        return settings.auth_secret
    path = settings.data_path / "auth.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class Authenticator:
    def __init__(self, secret: str, issuer: str, audience: str) -> None:
        self.secret, self.issuer, self.audience = secret, issuer, audience

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        return cls(auth_secret(settings), settings.auth_issuer, settings.auth_audience)

    def mint(self, claims: Claims, lifetime: int = LIFETIME) -> str:
        now = int(time.time())
        payload: dict[str, Any] = msgspec.to_builtins(claims) | {
            "iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + lifetime,
        }  # fmt: skip
        return jwt.encode(payload, self.secret, algorithm=ALGORITHM)

    def actor(self, token: str) -> Actor:
        """The actor a token names; NotAuthenticated for anything invalid or expired."""
        try:
            payload = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            claims = msgspec.convert(payload, Claims, strict=False)
            if claims.role == "partner" and not claims.partner:
                raise NotAuthenticated("a partner token must name its partner")
            return Actor(claims.sub, claims.role, claims.area, claims.partner, claims.team)
        except (jwt.PyJWTError, msgspec.ValidationError, ValidationFailed) as error:
            raise NotAuthenticated(f"the token is not valid: {error}") from None


def bearer(header: str | None) -> str:
    if not header or not header.lower().startswith("bearer "):
        raise NotAuthenticated("send a bearer token: Authorization: Bearer <token>")
    return header[7:].strip()
