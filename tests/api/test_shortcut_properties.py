"""Generated requests to the command routes get the same answer from the application as served
(``create_app``: the command shortcut in front of FastAPI) as from FastAPI alone: the same
status, problem+json body, headers (``API-Version`` among them), the same thing recorded and
the same log lines. The shortcut may answer a request itself or leave it to the framework; what
the client sees must never tell which.

The requests are driven as raw ASGI messages (no client to tidy them up): header variations
(Authorization missing, twice, another scheme, a revoked token, another organisation's
instance; If-Match as a current, stale, weak or listed ETag; Idempotency-Key edge cases;
Content-Type missing, other or with a charset; Content-Length wrong), bodies (empty, ``null``,
arrays, unknown members, wrong types, not UTF-8, a byte-order mark, huge numbers, duplicate
members, in several chunks) and paths (odd keys, unknown milestones and approvals, a trailing
slash, a query string, another method). Each request goes to twin instances, made alike.

Bounded: a fixed number of examples, no shrinking deadline, so that it runs in well under a
minute on either database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.http.app import MAX_BODY, PREFIX, create_app
from adapters.http.conventions import API_VERSION, Conventions
from adapters.http.replies import etag
from adapters.http.shortcut import CommandShortcut
from tests.api.test_shortcut import COMMANDS, Counting, _served

pytestmark = [pytest.mark.xdist_group("api"), pytest.mark.timeout(300)]

EXAMPLES = 100
"""On SQLite; fewer on PostgreSQL, where each twin costs more round trips."""
EXAMPLES_POSTGRES = 40


@dataclass
class Answer:
    """What a client (and the server's log) would see of one request."""

    status: int | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    raised: str | None = None
    logged: list[str] = field(default_factory=list)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


class Twins:
    """The application as served and FastAPI alone (inside the same conventions), on one
    database, and the tokens the generated requests use."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.application, self.programme, api = _served(db_url, tmp_path)
        served: Any = create_app(self.application)  # the shortcuts inside the conventions
        self.short = served
        shortcut = served.app.app
        assert isinstance(shortcut, CommandShortcut)
        self.behind = Counting(shortcut.app)
        shortcut.app = self.behind
        self.long = Conventions(api, version=API_VERSION, max_body=MAX_BODY)
        directory = self.application.service().directory
        revoked, info = directory.create_token("deltawonen", "partner", purpose="revoked")
        directory.revoke_token(info.prefix)
        self.tokens = {**self.programme.tokens, "revoked": revoked}
        self.loop = asyncio.new_event_loop()
        self.log = Capture()
        self.answered_here = 0
        self.counter = 0

    def ask(
        self,
        app: Any,
        method: str,
        path: str,
        query: bytes,
        headers: Any,
        chunks: list[bytes] | None,
    ) -> Answer:
        """``app``'s answer to one request (``chunks``: its body as it arrives; None: the client
        went away before sending it)."""
        answer = Answer()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": quote(path, safe="/;").encode("latin-1"),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"test"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
            "state": {},
        }
        messages = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks or [b""])
            if chunks is not None
        ]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(0)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")

        logger = logging.getLogger("wijkkompas")
        logger.addHandler(self.log)
        self.log.lines = []
        try:
            self.loop.run_until_complete(app(scope, receive, send))
        except Exception as exc:  # the server logs it: part of what is compared
            answer.raised = type(exc).__name__
        finally:
            logger.removeHandler(self.log)
        answer.logged = list(self.log.lines)
        return answer

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()
        self.application.close()


@pytest.fixture
def twins(db_url: str, tmp_path: Path) -> Iterator[Twins]:
    made = Twins(db_url, tmp_path)
    yield made
    made.close()


# --- what is generated ----------------------------------------------------------------------

ODD = "%/ \n\t;.?#é\u2028\x00~+:@"
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.just(10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["", "go", "2026-03-01", "2026-03-01T10:00:00", "x" * 2001]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def bodies(draw: st.DrawFn, valid: Any) -> tuple[str, bytes]:
    """A body for a route whose valid body is ``valid`` (None: it takes none or may go
    without): how it was made, and its bytes."""
    base: dict[str, Any] = dict(valid or {})
    kind = draw(
        usually(
            "valid",
            [
                "empty", "null", "array", "scalar", "object", "extra", "wrong", "drop",
                "not-utf8", "bom", "huge", "duplicate", "nested", "spaces", "nan", "bytes",
            ],
        )
    )  # fmt: skip
    if kind == "valid":
        return kind, json.dumps(valid).encode() if valid is not None else b""
    if kind == "empty":
        return kind, b""
    if kind == "null":
        return kind, b"null"
    if kind == "array":
        return kind, json.dumps(draw(st.sampled_from([[], [base]]))).encode()
    if kind == "scalar":
        return kind, json.dumps(draw(st.sampled_from(["text", 1, True, 1.5]))).encode()
    if kind == "object":
        return kind, b"{}"
    if kind == "extra":
        base[draw(st.sampled_from(["by", "actor", "x", "at", "Text"]))] = draw(json_values)
        return kind, json.dumps(base).encode()
    if kind == "wrong" and base:
        base[draw(st.sampled_from(sorted(base)))] = draw(json_values)
        return kind, json.dumps(base).encode()
    if kind == "drop" and base:
        del base[draw(st.sampled_from(sorted(base)))]
        return kind, json.dumps(base).encode()
    if kind == "not-utf8":
        return kind, json.dumps(base).encode()[:-1] + b', "note": "caf\xe9"}'
    if kind == "bom":
        return kind, b"\xef\xbb\xbf" + json.dumps(base).encode()
    if kind == "huge":
        name = draw(st.sampled_from([*sorted(base), "at"]))
        number = draw(st.sampled_from(["1" + "0" * 400, "1e999", "-0", "1E2", "0.1e-400"]))
        text = json.dumps({**base, name: 0}).replace(f'"{name}": 0', f'"{name}": {number}')
        return kind, text.encode()
    if kind == "duplicate" and base:
        name = sorted(base)[0]
        return kind, (
            json.dumps(base)[:-1] + f", {json.dumps(name)}: {json.dumps(base[name])}}}"
        ).encode()
    if kind == "nested":
        base["extra"] = {"a": [{"b": {"c": [1, 2, {"d": None}]}}]}
        return kind, json.dumps(base).encode()
    if kind == "spaces":
        return kind, b" \r\n\t" + json.dumps(base, indent=2).encode() + b"\n "
    if kind == "nan":
        return kind, json.dumps({**base, "at": float("nan")}).encode()
    if kind == "bytes":
        return kind, draw(st.binary(max_size=20))
    return "valid", json.dumps(valid).encode() if valid is not None else b""


@dataclass(frozen=True)
class Asked:
    """One generated request, with what depends on the twin (the key, the current ETag, a
    fresh Idempotency-Key) left as a placeholder."""

    method: str
    path: str
    query: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    chunks: tuple[bytes, ...]
    gone: bool
    """The client went away before sending its body."""
    owner: str
    setup: Any
    twice: bool


ROLES = ("programme_office", "partner", "viewer", "approver", "revoked")
CURRENT = b"\x00current\x00"
FRESH = b"\x00fresh\x00"


def usually(normal: Any, odd: list[Any]) -> st.SearchStrategy[Any]:
    """``normal`` seven times in eight, else one of ``odd``: each odd thing is mostly tried on
    its own, in a request the shortcut would otherwise answer."""
    return st.integers(0, 7).flatmap(lambda n: st.sampled_from(odd) if n == 7 else st.just(normal))


def _path(draw: st.DrawFn, path: str) -> str:
    change = draw(usually("none", ["key", "unknown", "segment", "slash", "double", "end"]))
    if change == "key":
        return path.replace("{key}", "{key}" + draw(st.text(ODD, min_size=1, max_size=3)))
    if change == "unknown":
        return path.replace("{key}", "bestaat-niet")
    if change == "segment" and path.count("/") >= 4:
        parts = path.split("/")
        parts[4] = draw(st.sampled_from(["bestaat-niet", "college", "x y", "é", "%41", "\n"]))
        return "/".join(parts)
    if change == "slash":
        return path + "/"
    if change == "double":
        return path.replace("/{key}", "//{key}")
    if change == "end":
        return path + draw(st.sampled_from(["\n", ".json", "%20", ";a=b"]))
    return path


def _authorization(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    token = ("\x00" + draw(st.sampled_from(ROLES)) + "\x00").encode()
    way = draw(usually("bearer", ["none", "twice", "other", "lower", "basic", "empty", "pad"]))
    return {
        "bearer": [(b"authorization", b"Bearer " + token)],
        "none": [],
        "twice": [(b"authorization", b"Bearer " + token)] * 2,
        "other": [(b"authorization", b"Bearer " + token), (b"authorization", b"Bearer wk_x_y")],
        "lower": [(b"authorization", b"bearer " + token)],
        "basic": [(b"authorization", b"Basic dXNlcjpwdw==")],
        "empty": [(b"authorization", b"")],
        "pad": [(b"authorization", b"Bearer  " + token + b" ")],
    }[way]


IF_MATCH = [
    *(b"*", b" * ", b"*, *", b"", b"7", b'"1-0"', b'"0-0000000000000000"'),
    *(CURRENT, b"W/" + CURRENT, CURRENT + b', "0-0000000000000000"', CURRENT + b" "),
]
KEYS = [FRESH, b"", b"twee woorden", b"k" * 256, FRESH + b"x" * 200, b"caf\xe9", b"a\tb"]
CONTENT_TYPES = [
    *(None, b"text/plain", b"application/json; charset=utf-8", b"Application/JSON"),
    *(b"application/json; charset=latin-1", b"application/merge-patch+json"),
    *(b"application/json, text/plain", b"application/json;", b"twice"),
]


@st.composite
def requests(draw: st.DrawFn) -> Asked:
    row = draw(st.sampled_from(COMMANDS))
    path = _path(draw, row.path)
    method = draw(usually(row.method, ["POST", "DELETE", "PUT", "GET"]))
    query = draw(usually(b"", [b"dry=1", b"key=x"]))
    headers = _authorization(draw)
    if_match = draw(usually(None, [*IF_MATCH, b"twice"]))
    if if_match == b"twice":
        headers += [(b"if-match", b"*"), (b"if-match", CURRENT)]
    elif if_match is not None:
        headers.append((b"if-match", if_match))
    key = draw(usually(None, [*KEYS, b"twice"]))
    if key == b"twice":
        headers += [(b"idempotency-key", FRESH), (b"idempotency-key", FRESH + b"2")]
    elif key is not None:
        headers.append((b"idempotency-key", key))
    _, body = draw(bodies(row.body))
    content_type = draw(usually(b"application/json", CONTENT_TYPES))
    if content_type == b"twice":
        headers += [(b"content-type", b"text/plain"), (b"content-type", b"application/json")]
    elif content_type is not None and (body or draw(st.booleans())):
        headers.append((b"content-type", content_type))
    length = draw(usually("right", ["none", "less", "more", "word", "huge"]))
    said = {
        "right": str(len(body)).encode(),
        "less": str(max(len(body) - 1, 0)).encode(),
        "more": str(len(body) + 1).encode(),
        "word": b"many",
        "huge": str(2**20).encode(),
    }.get(length)
    if said is not None and (body or method in ("POST", "PUT")):
        headers.append((b"content-length", said))
    cut = sorted(draw(st.lists(st.integers(0, len(body)), max_size=2)))
    chunks = [body[a:b] for a, b in zip([0, *cut], [*cut, len(body)], strict=True)]
    order = draw(st.permutations(range(len(headers))))
    return Asked(
        method=method,
        path=path,
        query=query,
        headers=tuple(headers[i] for i in order),
        chunks=tuple(chunks),
        gone=draw(usually(False, [True])),
        owner=draw(st.sampled_from(["deltawonen", "swz"])),
        setup=row.setup,
        twice=key is not None and draw(st.booleans()),
    )


# --- how the answers are compared ------------------------------------------------------------

_HASH = re.compile(rb"\b[0-9a-f]{64}\b|\b[0-9a-f]{16}\b")
_MOMENT = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)")


def _made(asked: Asked, twins: Twins, key: str, twin: int) -> tuple[str, list[Any]]:
    """The request for one twin: its path and headers with the placeholders filled in."""
    service = twins.programme.service
    last = service.log(key)[-1]
    current = etag(last.seq, last.hash).encode()
    fresh = f"{twins.counter:06d}-{twin}".encode()
    headers = []
    for name, value in asked.headers:
        value = value.replace(CURRENT, current).replace(FRESH, fresh)
        for role, token in twins.tokens.items():
            value = value.replace(f"\x00{role}\x00".encode(), token.encode())
        headers.append((name, value))
    return PREFIX + asked.path.replace("{key}", key), headers


def plain(text: bytes, keys: tuple[str, str]) -> bytes:
    text = text.replace(keys[1].encode(), keys[0].encode())
    text = re.sub(rb"\b\d{6}-[01]\b", b"(fresh)", text)
    return _MOMENT.sub(b"(moment)", _HASH.sub(b"(hash)", text))


def seen(answer: Answer, keys: tuple[str, str]) -> tuple[Any, ...]:
    headers = [
        (name, plain(value, keys)) for name, value in answer.headers if name != b"content-length"
    ]
    logged = [plain(line.encode(), keys) for line in answer.logged]
    return answer.status, plain(answer.body, keys), headers, answer.raised, logged


def _check(twins: Twins, asked: Asked) -> None:
    twins.counter += 1
    keys: list[str] = []
    for _ in range(2):
        key = twins.programme.instance(asked.owner, title="Tweeling")  # an update answers it
        if asked.setup is not None:
            asked.setup(twins.programme, key)
        keys.append(key)
    pair = (keys[0], keys[1])
    service = twins.programme.service
    for _ in range(2 if asked.twice else 1):
        answers = []
        for twin, (app, key) in enumerate(((twins.short, keys[0]), (twins.long, keys[1]))):
            path, headers = _made(asked, twins, key, twin)
            before = len(twins.behind.reached)
            chunks = None if asked.gone else list(asked.chunks)
            answers.append(twins.ask(app, asked.method, path, asked.query, headers, chunks))
            if app is twins.short:
                twins.answered_here += len(twins.behind.reached) == before
        short, long = answers
        assert seen(short, pair) == seen(long, pair), asked
        if short.status is not None:
            assert (b"api-version", API_VERSION.encode()) in short.headers
        first, second = (service.log(key) for key in keys)
        assert len(first) == len(second), asked
        assert (first[-1].type, first[-1].actor) == (second[-1].type, second[-1].actor), asked


GONE = Asked(
    method="DELETE",
    path="/instances/{key}/parties/enexis/netbeheerder",
    query=b"",
    headers=((b"authorization", b"Bearer \x00programme_office\x00"),),
    chunks=(b"",),
    gone=True,
    owner="deltawonen",
    setup=None,
    twice=False,
)
"""A command without a body whose client went away before its (empty) body arrived: FastAPI
runs it all the same, never reading the body; the shortcut once waited for it and did not."""


def test_generated_commands_are_answered_as_by_the_framework(twins: Twins) -> None:
    sqlite = twins.application.settings.db.startswith("sqlite")

    @given(asked=requests())
    @example(asked=GONE)
    @settings(
        max_examples=EXAMPLES if sqlite else EXAMPLES_POSTGRES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(asked: Asked) -> None:
        _check(twins, asked)

    run()
    # Both ways were exercised: answers the shortcut gave itself, and requests it left to FastAPI.
    assert twins.answered_here > 0
    assert twins.behind.reached


def test_a_command_without_a_body_never_reads_one(twins: Twins) -> None:
    """A DELETE's body is bounded by nothing (the conventions bound the bodies of POST, PUT and
    PATCH): FastAPI never reads it for the route, which takes none, and neither does the
    shortcut, however much of it the client would send."""
    for way, app in (("shortcut", twins.short), ("framework", twins.long)):
        key = twins.programme.instance()
        twins.programme.service.add_party(key, "enexis", "netbeheerder", by="test-seed")
        scope = {
            "type": "http",
            "method": "DELETE",
            "path": f"{PREFIX}/instances/{key}/parties/enexis/netbeheerder",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"authorization", f"Bearer {twins.tokens['programme_office']}".encode()),
                (b"transfer-encoding", b"chunked"),
            ],
        }
        sent, received = twins.loop.run_until_complete(_streamed(app, scope))
        assert (sent, received) == ([200], 0), way
        assert twins.programme.service.log(key)[-1].type == "party_removed"


async def _streamed(app: Any, scope: dict[str, Any]) -> tuple[list[int], int]:
    """The statuses ``app`` sent, and how many body messages it read of the 64 MiB (in 1 MiB
    chunks) the client would send."""
    received = 0
    sent: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 2**20, "more_body": received < 64}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    await app(scope, receive, send)
    return sent, received
