"""The users of the stack suite and their tokens."""

from __future__ import annotations

import time

from tests.helpers import SigningKey

#: Token names the corpus uses as ``{name}``, and the subject each one is.
SUBJECTS = {
    "alice": "user:default/alice",
    "mallory": "user:default/mallory",
    "bob": "user:default/bob",
    "service": "backstage-server",
}


def user_token(key: SigningKey, name: str, **claims: object) -> str:
    """A token for ``name`` signed by ``key``; ``claims`` override the defaults."""
    subject = SUBJECTS[name]
    return key.token(sub=subject, ent=[subject], jti=f"{name}-{time.monotonic_ns()}", **claims)
