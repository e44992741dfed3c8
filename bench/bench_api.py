"""Benchmark: the HTTP API against a bare endpoint of the same framework, in the same run.

Run by hand (not a test), on an otherwise idle machine, with wrk installed (`make bench-tools`):

    .venv/bin/python bench/bench_api.py get [--pg] [--instances 1000] [--seconds 10]
    .venv/bin/python bench/bench_api.py command [--pg] [--commands 2000]
    .venv/bin/python bench/bench_api.py layers [--pg] [--block 150] [--rounds 6]
    .venv/bin/python bench/bench_api.py list [--pg] [--instances 100000]
    .venv/bin/python bench/bench_api.py memory [--requests 100000]

Each starts the real server (`wijkkompas serve`, uvicorn, one process) on a fresh database
(a SQLite file with synchronous=FULL, or a new PostgreSQL database with --pg) and, for ``get``,
a bare FastAPI endpoint served the same way (uvicorn, one process) that returns a JSON body of
the same size without touching anything. The load generator is wrk (a C program; it shares the
machine's cores with the server, which the figures include).

- ``get``: GET /api/v1/instances/{key} (cycling over the instances) at 1 and 50 connections
  asking as fast as answers come, and at 50 connections each asking every 100 ms (about 500
  requests/s in all: latency at a given load rather than at saturation): requests/s and p50/p99
  latency, ours against the bare endpoint.
- ``command``: POST .../milestones/{id}/done over HTTP (one keep-alive connection from a bounded
  httpx loop, a new instance per request, every answer checked) against the same command called
  in-process through the service, commands/s; and CPU per command, in-process and the
  server's over HTTP (from /proc, during the wrk run: a figure that a busy machine changes
  less than the rates). Then the floors, the same requests at one wrk connection to: the bare
  FastAPI endpoint; a raw ASGI callable on uvicorn (no framework); and that callable handing
  an empty function to a worker thread first, as the server hands it every command. Each
  gives the share of in-process that the command plus that round trip would reach: a ceiling
  for any server that answers through it.
- ``layers``: no server: CPU per command through the service, through the ASGI application
  called in this process, and through it without the hand-off to a worker thread.
- ``list``: the first page of GET /api/v1/instances with filters on 100,000 instances.
- ``memory``: the server's resident memory after 10,000, 50,000 and 100,000 requests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_durable import postgres_url, sqlite_url  # noqa: E402

WIJKKOMPAS = str(Path(sys.executable).parent / "wijkkompas")
MILESTONE = "aanleiding-en-opdracht"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database(pg: bool) -> AbstractContextManager[str]:
    """A new PostgreSQL database (dropped afterwards) or a SQLite file in a temporary folder."""
    return postgres_url() if pg else sqlite_url("FULL")


def seed(url: str, count: int) -> str:
    """``count`` wijken with regie at the municipality, its programme office; a token for it."""
    from engine.app.access import Role
    from engine.app.service import NewInstance
    from engine.compose import Application
    from engine.runtime.events import Regie

    with Application.configure(given={"db": url, "workflows": ()}, env={}) as app:
        service = app.service(create=True)
        directory = service.directory
        directory.add_organisation(
            key="gemeente", name="Gemeente", kind="gemeente", runs_programme=True
        )
        directory.add_principal(
            organisation="gemeente", name="bench", kind="application", role=Role.PROGRAMME_OFFICE
        )
        secret, _ = directory.create_token("gemeente", "bench", purpose="bench")
        phases = ("samen-starten",)
        for start in range(0, count, 20_000):
            items = [
                NewInstance(
                    key=f"wk{i:06d}",
                    workflow="wijkkompas",
                    title=f"Wijk {i} {'Noord' if i % 3 else 'Zuid'}",
                    regie=Regie(type="gemeente", organisation="Gemeente"),
                )
                for i in range(start, min(count, start + 20_000))
            ]
            service.create_many(items, by="bench")
        del phases
    return secret


@contextmanager
def process(args: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[int]:
    # A pipe nobody reads would fill and stall the server: its output goes to a file.
    with tempfile.TemporaryFile("w+") as log:
        yield from _run(args, port, env, log)


def _run(args: list[str], port: int, env: dict[str, str] | None, log: Any) -> Iterator[int]:
    proc = subprocess.Popen(
        args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=log, text=True
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"server did not start: {log.read()}") from None
            time.sleep(0.05)
    try:
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def our_server(url: str) -> Iterator[tuple[int, int]]:
    port = free_port()
    with process(
        [WIJKKOMPAS, "--db", url, "serve", "--port", str(port), "--no-access-log"], port
    ) as pid:
        yield port, pid


@contextmanager
def bare_server(size: int, kind: str = "fastapi") -> Iterator[int]:
    port = free_port()
    with process(
        [
            sys.executable,
            __file__,
            "bare",
            "--port",
            str(port),
            "--size",
            str(size),
            "--kind",
            kind,
        ],
        port,
    ):
        yield port


def serve_bare(port: int, size: int) -> None:
    """A FastAPI app answering ``size`` bytes of JSON to a GET, and to a POST of a JSON body
    (read and parsed, as a command's is), served by uvicorn."""
    import uvicorn
    from fastapi import FastAPI
    from starlette.responses import Response

    app = FastAPI()
    body = json.dumps({"filler": "x" * max(0, size - 14)}).encode()

    @app.get("/bare/{key}")
    def bare(key: str) -> Response:
        return Response(body, media_type="application/json")

    @app.post("/bare/{key}")
    def bare_post(key: str, sent: dict[str, object]) -> Response:
        return Response(body, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def serve_raw(port: int, size: int, *, hand_off: bool) -> None:
    """No framework at all: an ASGI callable that reads a POST's body, parses it and answers
    ``size`` bytes of JSON, served by uvicorn as ours is. With ``hand_off`` it first hands an
    empty function to a worker thread and waits for it (``anyio.to_thread.run_sync``, as the
    server runs every command): what that hand-off alone costs a request's round trip."""
    import anyio.to_thread
    import uvicorn

    body = json.dumps({"filler": "x" * max(0, size - 14)}).encode()
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        if chunks != [b""]:
            json.loads(b"".join(chunks))
        if hand_off:
            await anyio.to_thread.run_sync(lambda: None)
        await send(start)
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


PACE = 100
"""ms each paced client waits between requests: 50 of them ask about 500 times a second."""

LUA_CYCLE = """
counter = 0
request = function()
  counter = counter + 1
  local path = string.format("%s%06d", "{prefix}", counter % {count})
  return wrk.format("{method}", path, nil, {body})
end
"""


def wrk(
    url: str, *, connections: int, seconds: int, token: str | None, script: str
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `make bench-tools` (see bench/loadgen.md)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    args += ["-s", lua.name, url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)

    def latency(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    done = re.search(r"(\d+) requests in", out)
    return {
        "requests": int(done.group(1)) if done else 0,
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def cycle_script(
    prefix: str, count: int, method: str = "GET", body: str | None = None, pace: int = 0
) -> str:
    """Requests cycling over ``count`` keys; ``pace``: each connection waits that many ms
    before its next request (wrk's ``delay``), so the clients ask at a given rate instead of
    as fast as answers come (closed loop)."""
    lua_body = "nil" if body is None else json.dumps(body)
    script = (
        LUA_CYCLE.replace("{prefix}", prefix)
        .replace("{count}", str(count))
        .replace("{method}", method)
        .replace("{body}", lua_body)
    )
    if pace:
        script += f"delay = function()\n  return {pace}\nend\n"
    return script


def bench_get(args: argparse.Namespace) -> None:
    import httpx

    with database(args.pg) as url:
        token = seed(url, args.instances)
        with our_server(url) as (port, _pid):
            sample = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/instances/wk000001",
                headers={"Authorization": f"Bearer {token}"},
            )
            size = len(sample.content)
            # Steady state: every instance asked once before the runs, so the runs measure
            # answers from the views a running server keeps, not each view's first making.
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {token}"},
            ) as warm:
                for i in range(args.instances):
                    warm.get(f"/api/v1/instances/wk{i:06d}").raise_for_status()
            with bare_server(size) as bare:
                print(
                    f"{'sqlite FULL' if not args.pg else 'postgresql'}: {args.instances} "
                    f"instances; response {size} bytes; wrk {args.seconds}s per run"
                )
                for connections, pace in ((1, 0), (50, 0), (50, PACE)):
                    ours = wrk(
                        f"http://127.0.0.1:{port}",
                        connections=connections,
                        seconds=args.seconds,
                        token=token,
                        script=cycle_script("/api/v1/instances/wk", args.instances, pace=pace),
                    )
                    base = wrk(
                        f"http://127.0.0.1:{bare}",
                        connections=connections,
                        seconds=args.seconds,
                        token=None,
                        script=cycle_script("/bare/wk", args.instances, pace=pace),
                    )
                    share = ours["rps"] / base["rps"] * 100
                    label = f"{connections:>2} client(s)" + (f" paced {pace} ms" if pace else "")
                    print(
                        f"  {label}: ours {ours['rps']:8.0f} req/s "
                        f"p50 {ours['p50']:6.2f} ms p99 {ours['p99']:6.2f} ms "
                        f"(non-2xx {ours['non2xx']}) | bare {base['rps']:8.0f} req/s "
                        f"p50 {base['p50']:6.2f} ms p99 {base['p99']:6.2f} ms | ours/bare "
                        f"{share:5.1f}%"
                    )


def bench_command(args: argparse.Namespace) -> None:
    from engine.compose import Application

    n = args.commands
    with database(args.pg) as url:
        seed(url, 4 * n)
        # In-process: the same command through the service, one after another.
        with Application.configure(given={"db": url, "workflows": ()}, env={}) as app:
            service = app.service()
            started, cpu = time.perf_counter(), time.process_time()
            for i in range(n):
                service.milestone_done(f"wk{i:06d}", MILESTONE, by="bench")
            inprocess = n / (time.perf_counter() - started)
            inprocess_cpu = (time.process_time() - cpu) / n
        # Over HTTP: one keep-alive connection (a bounded httpx loop), each request on the next
        # fresh instance, every answer checked.
        with Application.configure(given={"db": url, "workflows": ()}, env={}) as app:
            secret, _ = app.service().directory.create_token("gemeente", "bench", purpose="b2")
        import httpx

        with (
            our_server(url) as (port, pid),
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            ) as client,
        ):
            times = []
            started = time.perf_counter()
            for i in range(n, 2 * n):
                t = time.perf_counter()
                answer = client.post(
                    f"/api/v1/instances/wk{i:06d}/milestones/{MILESTONE}/done", content=b"{}"
                )
                times.append((time.perf_counter() - t) * 1000)
                assert answer.status_code == 200, answer.text
            over_http = n / (time.perf_counter() - started)
            # The same with wrk (a C client: the Python client above costs time of its own),
            # one connection, each request on the next fresh instance: 2n of them, for half as
            # long as they last at the in-process rate, so that none runs out even when HTTP
            # is measured faster than it (a busy machine); any answer but 2xx is counted.
            seconds = max(1, int(n / inprocess))
            script = (
                f"counter = {2 * n - 1}\n"
                "request = function()\n"
                "  counter = counter + 1\n"
                f"  local path = string.format('/api/v1/instances/wk%06d/milestones/{MILESTONE}"
                "/done', counter)\n"
                "  return wrk.format('POST', path, {['Content-Type']='application/json', "
                f"['Authorization']='Bearer {secret}'}}, '{{}}')\n"
                "end\n"
            )
            cpu = cpu_seconds(pid)
            by_wrk = wrk(
                f"http://127.0.0.1:{port}",
                connections=1,
                seconds=seconds,
                token=secret,
                script=script,
            )
            server_cpu = (cpu_seconds(pid) - cpu) / max(1, by_wrk["requests"])
            # The same requests to a bare endpoint of the same framework (it parses the body
            # and answers as many bytes): what HTTP costs before any work is done. A command
            # over HTTP cannot take less than the command plus this.
            size = len(answer.content)
        floors = {}
        for kind in ("fastapi", "raw", "raw-hand-off"):
            with bare_server(size, kind) as bare:
                floors[kind] = wrk(
                    f"http://127.0.0.1:{bare}",
                    connections=1,
                    seconds=max(1, int(n / inprocess)),
                    token=None,
                    script=cycle_script("/bare/wk", 4 * n, "POST", "{}").replace(
                        "nil,", "{['Content-Type']='application/json'},"
                    ),
                )
        times.sort()
        http = {
            "rps": over_http,
            "p50": times[len(times) // 2],
            "p99": times[int(len(times) * 0.99)],
            "non2xx": 0,
        }
        print(
            f"  wrk, one connection: {by_wrk['rps']:7.0f}/s (p50 {by_wrk['p50']:.2f} ms, p99 "
            f"{by_wrk['p99']:.2f} ms, non-2xx {by_wrk['non2xx']}): "
            f"{by_wrk['rps'] / inprocess * 100:5.1f}% of in-process"
        )
        print(
            f"  CPU per command: in-process {inprocess_cpu * 1e6:.0f} us, the server's over "
            f"HTTP (wrk run) {server_cpu * 1e6:.0f} us"
        )
        for kind, words in (
            ("fastapi", "bare FastAPI POST"),
            ("raw", "raw ASGI POST, no framework"),
            ("raw-hand-off", "the same, with an empty thread hand-off"),
        ):
            floor = floors[kind]
            ceiling = (1 / inprocess) / (1 / inprocess + 1 / floor["rps"]) * 100
            print(
                f"  {words}, wrk, one connection: {floor['rps']:7.0f}/s (p50 "
                f"{floor['p50']:.2f} ms, non-2xx {floor['non2xx']}): the in-process command "
                f"plus this round trip would be {ceiling:5.1f}% of in-process"
            )
        kind = "postgresql" if args.pg else "sqlite FULL"
        print(
            f"{kind}: milestone done in-process {inprocess:7.0f}/s, over HTTP "
            f"{http['rps']:7.0f}/s (p50 {http['p50']:.2f} ms, p99 {http['p99']:.2f} ms, "
            f"non-2xx {http['non2xx']}): HTTP is {http['rps'] / inprocess * 100:5.1f}% of "
            "in-process"
        )


def bench_layers(args: argparse.Namespace) -> None:
    """Where a command's CPU goes between the service and the socket: the same ``milestone
    done`` through the service, through the ASGI application called in this process (no
    server, no socket) as it is served, and through it with the hand-off to a worker thread
    replaced by a direct call. Blocks of each alternate, so that a machine whose speed changes
    from minute to minute changes all three alike; medians of the blocks."""
    from adapters.http import shortcut
    from adapters.http.app import PREFIX, create_app
    from engine.compose import Application

    block, rounds = args.block, args.rounds
    kinds = ("service", "application", "no hand-off")
    with database(args.pg) as url:
        seed(url, len(kinds) * block * rounds + 1)
        with Application.configure(given={"db": url, "workflows": ()}, env={}) as app:
            secret, _ = app.service().directory.create_token("gemeente", "bench", purpose="b2")
        with Application.configure(given={"db": url, "workflows": ()}, env={}) as app:
            asgi = create_app(app)
            service = app.service()
            direct = {"on": False}
            hand_off = vars(shortcut)["anyio"].to_thread.run_sync

            async def run_sync(function: Any, *values: Any) -> Any:
                return function(*values) if direct["on"] else await hand_off(function, *values)

            # The bench's own switch, in place of the module's one call to the thread pool.
            vars(shortcut)["anyio"] = SimpleNamespace(to_thread=SimpleNamespace(run_sync=run_sync))
            headers = [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {secret}".encode()),
                (b"content-length", b"2"),
            ]

            async def main() -> dict[str, list[float]]:
                answers: list[Any] = []

                async def send(message: Any) -> None:
                    answers.append(message)

                async def receive() -> dict[str, Any]:
                    return {"type": "http.request", "body": b"{}", "more_body": False}

                async def over_asgi(key: str) -> None:
                    answers.clear()
                    path = f"{PREFIX}/instances/{key}/milestones/{MILESTONE}/done"
                    scope = {
                        "type": "http",
                        "asgi": {"version": "3.0"},
                        "http_version": "1.1",
                        "method": "POST",
                        "scheme": "http",
                        "path": path,
                        "raw_path": path.encode(),
                        "query_string": b"",
                        "root_path": "",
                        "headers": headers,
                        "client": ("127.0.0.1", 50000),
                        "server": ("127.0.0.1", 8080),
                        "state": {},
                    }
                    await asgi(scope, receive, send)
                    assert answers[0]["status"] == 200, answers

                keys = (f"wk{i:06d}" for i in range(len(kinds) * block * rounds + 1))
                await over_asgi(next(keys))  # the first request builds what every one uses
                cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
                for _ in range(rounds):
                    for kind in kinds:
                        direct["on"] = kind == "no hand-off"
                        started = time.process_time()
                        for _ in range(block):
                            if kind == "service":
                                service.milestone_done(next(keys), MILESTONE, by="bench")
                            else:
                                await over_asgi(next(keys))
                        cpu[kind].append((time.process_time() - started) / block * 1e6)
                return cpu

            import uvloop

            cpu = uvloop.run(main())
    alone = statistics.median(cpu["service"])
    print(
        f"{'postgresql' if args.pg else 'sqlite FULL'}: CPU per milestone done, medians of "
        f"{rounds} blocks of {block} (process CPU, every thread)"
    )
    for kind in kinds:
        median = statistics.median(cpu[kind])
        runs = " ".join(f"{x:.0f}" for x in cpu[kind])
        print(f"  {kind:12s} {median:6.0f} us ({median / alone:4.2f}x the service; blocks {runs})")


def bench_list(args: argparse.Namespace) -> None:
    import httpx

    with database(args.pg) as url:
        started = time.perf_counter()
        token = seed(url, args.instances)
        print(f"seeded {args.instances} instances in {time.perf_counter() - started:.1f} s")
        with our_server(url) as (port, _pid):
            headers = {"Authorization": f"Bearer {token}"}
            queries = {
                "no filter": {},
                "phase": {"phase": "samen-starten"},
                "search 'Zuid'": {"q": "Zuid"},
                "phase+search, sort -title": {
                    "phase": "samen-starten",
                    "q": "Zuid",
                    "sort": "-title",
                },
                "overdue": {"overdue": "true"},
            }
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
                for label, query in queries.items():
                    times = []
                    for _ in range(11):
                        t = time.perf_counter()
                        answer = http.get("/api/v1/instances", params={**query, "limit": 50})
                        times.append((time.perf_counter() - t) * 1000)
                        assert answer.status_code == 200, answer.text
                    print(
                        f"  first page, {label:<28} median {statistics.median(times):6.1f} ms, "
                        f"max {max(times):6.1f} ms ({len(answer.json()['items'])} items)"
                    )


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def bench_memory(args: argparse.Namespace) -> None:
    with database(False) as url:
        token = seed(url, 1000)
        with our_server(url) as (port, pid):
            print(f"server RSS at start: {rss_kb(pid) / 1024:.1f} MB")
            done, rate = 0, 300.0
            for target in (10_000, 50_000, args.requests):
                # wrk runs by time: each run is sized by the rate of the one before.
                seconds = max(1, round((target - done) / rate))
                run = wrk(
                    f"http://127.0.0.1:{port}",
                    connections=10,
                    seconds=seconds,
                    token=token,
                    script=cycle_script("/api/v1/instances/wk", 1000),
                )
                rate = run["rps"]
                done += int(rate * seconds)
                print(
                    f"  after ~{done:>7,} requests: RSS {rss_kb(pid) / 1024:.1f} MB "
                    f"({rate:.0f} req/s)"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    get = sub.add_parser("get")
    get.add_argument("--pg", action="store_true")
    get.add_argument("--instances", type=int, default=1000)
    get.add_argument("--seconds", type=int, default=10)
    command = sub.add_parser("command")
    command.add_argument("--pg", action="store_true")
    command.add_argument("--commands", type=int, default=2000)
    layers = sub.add_parser("layers")
    layers.add_argument("--pg", action="store_true")
    layers.add_argument("--block", type=int, default=150)
    layers.add_argument("--rounds", type=int, default=6)
    listing = sub.add_parser("list")
    listing.add_argument("--pg", action="store_true")
    listing.add_argument("--instances", type=int, default=100_000)
    memory = sub.add_parser("memory")
    memory.add_argument("--requests", type=int, default=100_000)
    bare = sub.add_parser("bare")
    bare.add_argument("--port", type=int, required=True)
    bare.add_argument("--size", type=int, default=1500)
    bare.add_argument("--kind", choices=("fastapi", "raw", "raw-hand-off"), default="fastapi")
    args = parser.parse_args()
    if args.what == "bare":
        if args.kind == "fastapi":
            serve_bare(args.port, args.size)
        else:
            serve_raw(args.port, args.size, hand_off=args.kind == "raw-hand-off")
    else:
        {
            "get": bench_get,
            "command": bench_command,
            "layers": bench_layers,
            "list": bench_list,
            "memory": bench_memory,
        }[args.what](args)


if __name__ == "__main__":
    main()
