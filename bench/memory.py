"""Memory: many distinct valid tokens, then far more distinct garbage tokens.

The verifier is the guard's own, with its default cache settings (or a given
bound). Python's allocations are traced (``tracemalloc``) from before the
verifier is built, so what is reported is what the verifier holds:

1. ``valid`` distinct valid tokens: the cache must stop at its bound.
2. ``garbage`` distinct refused tokens -- malformed strings, well-formed tokens
   with an unknown ``kid``, with a wrong-length signature, and (one in a
   hundred) with a forged signature of the right length that costs a full
   signature check: nothing is cached, so memory must not grow.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from dataclasses import dataclass

from bench.fixtures import AUDIENCE, ISSUER, Key, b64url


@dataclass(frozen=True)
class MemoryResult:
    bound: int
    valid: int
    garbage: int
    entries_after_valid: int
    entries_after_garbage: int
    traced_after_valid: int
    traced_after_garbage: int
    hits: int
    misses: int

    @property
    def garbage_growth(self) -> int:
        return self.traced_after_garbage - self.traced_after_valid

    @property
    def met(self) -> bool:
        # "Adds nothing": within 64 KiB of noise (interpreter caches, free lists).
        return (
            self.entries_after_valid <= self.bound
            and self.entries_after_garbage == self.entries_after_valid
            and self.garbage_growth < 64 * 1024
        )


def _garbage(key: Key, count: int) -> list[str]:
    valid = key.token("garbage-template")
    header, payload, _ = valid.split(".")
    unknown_kid = b64url(b'{"alg":"ES256","kid":"nobody","typ":"JWT"}')
    tokens = []
    for i in range(count):
        kind = i % 100
        noise = b64url(i.to_bytes(8, "big") + os.urandom(8))
        if kind == 0:  # right length, forged: a full signature check, refused
            tokens.append(f"{header}.{payload}.{b64url(i.to_bytes(64, 'big'))}")
        elif kind < 34:
            tokens.append(f"{noise}.{noise}.{noise}")
        elif kind < 67:
            tokens.append(f"{unknown_kid}.{payload}.{noise}")
        else:
            tokens.append(f"{header}.{payload}.{noise}")
    return tokens


def measure(key: Key, *, valid: int, garbage: int, bound: int = 10_000) -> MemoryResult:
    from wsgi_jwt_guard import InvalidToken, Issuer
    from wsgi_jwt_guard.verification import Verifier

    valid_tokens = key.tokens(valid, prefix="memory-")
    garbage_tokens = _garbage(key, garbage)
    gc.collect()
    tracemalloc.start()
    try:
        issuer = Issuer(ISSUER, keys=[key.jwk()], audience=AUDIENCE, algorithms=[key.alg])
        verifier = Verifier([issuer], token_cache_size=bound)
        for token in valid_tokens:
            verifier.verify(token, "header")
        gc.collect()
        after_valid = tracemalloc.get_traced_memory()[0]
        entries_after_valid = len(verifier.token_cache)
        for token in garbage_tokens:
            try:
                verifier.verify(token, "header")
            except InvalidToken:
                pass
            else:
                raise AssertionError("a garbage token verified")
        gc.collect()
        after_garbage = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return MemoryResult(
        bound=bound,
        valid=valid,
        garbage=garbage,
        entries_after_valid=entries_after_valid,
        entries_after_garbage=len(verifier.token_cache),
        traced_after_valid=after_valid,
        traced_after_garbage=after_garbage,
        hits=verifier.token_cache.hits,
        misses=verifier.token_cache.misses,
    )
