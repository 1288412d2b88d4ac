"""The guard's refusal log, as the servers' output holds it (issue 10, class 6).

Request bytes an attacker chooses -- a path decoded into ESC, CR/LF, vertical
tab, NEL (U+0085, also a lone ``%85`` byte in a PEP 3333 string), U+2028 --
must reach an operator's terminal or log file escaped, one refusal a line: no
forged line, no terminal control sequence. Each stack logs the guard's INFO
lines to stderr with a prefix (``apps.GUARD_LOG_PREFIX``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.stack.apps import GUARD_LOG_PREFIX
from tests.stack.client import request_bytes
from tests.stack.corpus import EVIL
from tests.stack.oracle import send_everywhere, violations
from tests.stack.stacks import Stack

FORGED = "FORGED refused GET /admin: ok"
# A line may hold none of these raw: C0/C1 controls, DEL, line and paragraph separators.
RAW_CONTROL = {chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]} - {"\t"}


@pytest.mark.parametrize(("method", "target", "headers"), [
    pytest.param("GET", "/api/catalog/{probe}%1b[2J%1b]0;pwned%07%0d%0a" + FORGED.replace(" ", "%20"), [], id="path-esc-crlf"),
    pytest.param("GET", "/api/catalog/{probe}%0b" + FORGED.replace(" ", "%20") + "%0c", [], id="path-vertical-tab-form-feed"),
    pytest.param("GET", "/api/catalog/{probe}%c2%85" + FORGED.replace(" ", "%20"), [], id="path-nel-utf8"),
    pytest.param("GET", "/api/catalog/{probe}%85" + FORGED.replace(" ", "%20"), [], id="path-nel-latin1-byte"),
    pytest.param("GET", "/api/catalog/{probe}%e2%80%a8" + FORGED.replace(" ", "%20"), [], id="path-line-separator"),
    pytest.param("GET", "/api/catalog/{probe}/%ff%fe", [], id="path-invalid-utf8"),
    pytest.param("POST", "/api/catalog/{probe}", [("Cookie", "token={alice}"), ("Origin", EVIL),
                 ("X-HTTP-Method-Override", "DELETE\x0b" + FORGED)], id="method-override-vertical-tab"),
    pytest.param("POST", "/api/catalog/{probe}", [("Cookie", "token={alice}"), ("Origin", EVIL),
                 ("X-HTTP-Method-Override", "DEL\x85ETE")], id="method-override-nel"),
    pytest.param("\x1b[2J\x1b[31mGET", "/api/catalog/{probe}", [], id="method-with-escapes"),
])  # fmt: skip
def test_a_refusal_is_one_escaped_line(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor,
    method: str, target: str, headers: list[tuple[str, str]],
) -> None:  # fmt: skip
    template = request_bytes(method, target, headers)
    results = send_everywhere(pool, list(stacks.values()), template, tokens)
    problems = [p for stack, result in results for p in violations(stack, result, None)]
    answered = 0
    for stack, result in results:
        response = result.response
        if response is None or b'"error"' not in response.body:
            continue  # the server refused it before the guard saw it
        answered += 1
        stack.process.wait_for_line(result.probe, timeout=10)
        lines = [line for line in stack.process.lines if result.probe in line]
        if len(lines) != 1 or not lines[0].startswith(GUARD_LOG_PREFIX):
            problems.append(f"{stack.name}: {lines!r}")
        elif RAW_CONTROL.intersection(lines[0]):
            problems.append(f"{stack.name}: raw control characters in {lines[0]!r}")
        forged = [line for line in stack.process.lines if line.startswith("FORGED")]
        if forged:
            problems.append(f"{stack.name}: a forged line {forged[0]!r}")
    assert answered, "no server let this request through to the guard"
    assert not problems, "\n".join(problems)
