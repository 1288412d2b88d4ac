"""DPoP through real servers in front of real routers.

A DPoP proof binds a request to a method and a URL (``htm``, ``htu``); the
guard compares them with the request *as the app will act on it*: the
``Host``, the scheme, ``SCRIPT_NAME + PATH_INFO`` as the server hands them
over, and the method after any override header the app honours. The same
stacks as the corpus (gunicorn sync and gthread, waitress, Werkzeug, gunicorn
behind a relay; Flask, Django, Pyramid, Bottle, ``DispatcherMiddleware``),
the same oracle: which view body ran, and as whom. Every proof is made by
PyJWT (:class:`tests.helpers.DPoPClient`) for the port that stack is dialled
on, fresh for every request.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.helpers import DPoPClient, SigningKey
from tests.stack.client import Exchange, exchange, request_bytes
from tests.stack.oracle import violations
from tests.stack.stacks import MOUNT, Stack
from tests.stack.users import SUBJECTS, user_token

SECRET = "/api/catalog/secret"


@pytest.fixture(scope="module")
def client() -> DPoPClient:
    return DPoPClient()


@pytest.fixture(scope="module")
def bound(ec_key: SigningKey, client: DPoPClient) -> str:
    """Alice's access token, bound to ``client``'s key (RFC 9449 §6.1)."""
    return user_token(ec_key, "alice", cnf={"jkt": client.jkt})


@dataclass(frozen=True)
class Attempt:
    """A request (``target``, ``headers``) and the proof it carries, made for
    ``htm htu`` where ``htu`` is a path on the origin dialled."""

    target: str = SECRET
    method: str = "GET"
    htm: str = "GET"
    htu: str = SECRET
    scheme: str = "DPoP"
    proof: bool = True
    other_key: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    #: The one user a view may run as; ``None``: no protected view may run.
    expect: str | None = None
    #: The control: the request is good, so the view ran as alice in every stack.
    runs: bool = False


ATTEMPTS = [
    pytest.param(Attempt(expect="alice", runs=True), id="valid-proof"),
    pytest.param(Attempt(scheme="Bearer", proof=False), id="bound-token-as-bearer"),
    pytest.param(Attempt(scheme="Bearer"), id="bound-token-as-bearer-with-a-proof"),
    pytest.param(Attempt(proof=False), id="no-proof"),
    pytest.param(Attempt(other_key=True), id="proof-by-another-key"),
    pytest.param(Attempt(htu="/api/auth/login"), id="proof-for-a-public-path"),
    pytest.param(Attempt(htu="/api/catalog"), id="proof-for-a-parent-path"),
    pytest.param(Attempt(htm="POST"), id="proof-for-another-method"),
    pytest.param(Attempt(method="POST", htm="GET"), id="get-proof-on-a-post"),
    pytest.param(
        Attempt(headers=(("X-HTTP-Method-Override", "DELETE"),)), id="method-override-header"
    ),
    pytest.param(
        Attempt(target="/api/auth/../catalog/secret", expect="alice"),
        id="dot-dot-proof-for-the-normalized-path",
    ),
    pytest.param(
        Attempt(target="/api/auth/../catalog/secret", htu="/api/auth/login"),
        id="dot-dot-proof-for-the-public-prefix",
    ),
    pytest.param(Attempt(target="/api/auth/..%2fcatalog%2fsecret", htu="/api/auth/..%2fcatalog%2fsecret"), id="encoded-slash"),
    pytest.param(Attempt(target="//api/catalog/secret", htu="//api/catalog/secret"), id="double-slash"),
    pytest.param(Attempt(target=f"{SECRET}?x=1", expect="alice", runs=True), id="query-not-in-htu"),
]


def send(
    pool: ThreadPoolExecutor,
    stacks: list[Stack],
    attempt: Attempt,
    token: str,
    proof: Callable[[Stack], str],
) -> list[tuple[Stack, Exchange]]:
    headers = [("Authorization", f"{attempt.scheme} {token}"), *attempt.headers]
    if attempt.proof:
        headers.append(("DPoP", "{proof}"))
    template = request_bytes(attempt.method, attempt.target, headers)
    results = pool.map(lambda stack: exchange(stack.port, template, {"proof": proof(stack)}), stacks)
    return list(zip(stacks, results, strict=True))


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_no_view_runs_on_a_proof_for_another_request(
    stacks: dict[str, Stack],
    pool: ThreadPoolExecutor,
    client: DPoPClient,
    bound: str,
    attempt: Attempt,
) -> None:
    signer = DPoPClient() if attempt.other_key else client

    def proof(stack: Stack) -> str:
        return signer.proof(attempt.htm, f"http://127.0.0.1:{stack.port}{attempt.htu}", bound)

    results = send(pool, list(stacks.values()), attempt, bound, proof)
    problems = [p for stack, result in results for p in violations(stack, result, attempt.expect)]
    assert not problems, "\n".join(problems)
    if attempt.runs:
        ran = {stack.name: [e["user"] for e in stack.records(result.probe)] for stack, result in results}
        assert ran == {name: [SUBJECTS["alice"]] for name in ran}


@pytest.mark.parametrize(
    ("htu", "expect"),
    [
        pytest.param(f"{MOUNT}{SECRET}", "alice", id="htu-with-the-mount"),
        pytest.param(SECRET, None, id="htu-without-the-mount"),
    ],
)
def test_below_a_script_name_the_proof_names_the_public_url(
    mounted: dict[str, Stack],
    pool: ThreadPoolExecutor,
    client: DPoPClient,
    bound: str,
    htu: str,
    expect: str | None,
) -> None:
    """gunicorn serves below ``SCRIPT_NAME``: the URL a client calls (and signs)
    holds the prefix, and only that proof passes."""

    def proof(stack: Stack) -> str:
        return client.proof("GET", f"http://127.0.0.1:{stack.port}{htu}", bound)

    attempt = Attempt(target=f"{MOUNT}{SECRET}", expect=expect)
    results = send(pool, list(mounted.values()), attempt, bound, proof)
    problems = [p for stack, result in results for p in violations(stack, result, expect)]
    assert not problems, "\n".join(problems)
    ran = [e["user"] for stack, result in results for e in stack.records(result.probe)]
    assert ran == ([SUBJECTS["alice"]] * len(mounted) if expect else [])
