"""Benchmark: the dashboard's pages on a programme of 15,000 instances (the whole country's
buurten), server time and page weight.

Run by hand (not a test):  .venv/bin/python bench/bench_dashboard.py [--count N] [--runs N]

Seeds COUNT wijken into a temporary SQLite file (as bench_api.py does), gives the programme
office a password, signs in, and times each page in process (the ASGI application called
through Starlette's test client: server time without a network). Page weight is the HTML plus
every stylesheet it links (no scripts, no images, no fonts).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

PASSWORD = "bench password 123"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=15_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from bench_api import seed
    from starlette.testclient import TestClient

    from adapters.http.app import create_app
    from engine.compose import Application

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        started = time.perf_counter()
        seed(url, args.count)
        print(f"seeded {args.count} instances in {time.perf_counter() - started:.1f} s")
        app = Application.configure(given={"db": url, "workflows": ()}, env={})
        client = TestClient(create_app(app))
        with client:
            app.service().signin.set_password("gemeente", "bench", PASSWORD)
            page = client.get("/signin")
            token = re.search(r'name="signin_token" value="([^"]+)"', page.text)
            assert token is not None
            client.post(
                "/signin",
                data={
                    "signin_token": token.group(1),
                    "organisation": "gemeente",
                    "name": "bench",
                    "password": PASSWORD,
                },
                follow_redirects=False,
            )
            pages = {
                "portfolio, first page": "/",
                "portfolio, search 'Zuid' sorted by name": "/?q=Zuid&sort=title",
                "portfolio, phase filter": "/?phase=samen-starten",
                "instance page": "/instances/wk007500",
                "timeline, first page (25 rows)": "/timeline",
                "timeline, phase filter": "/timeline?phase=samen-starten",
                "workflows": "/workflows",
                "reminders (coming 30 days, failed)": "/reminders",
            }
            print(f"{'page':<42} {'median ms':>10} {'best ms':>8} {'HTML kB':>8} {'+CSS kB':>8}")
            for name, path in pages.items():
                times = []
                body = b""
                for _ in range(args.runs):
                    begun = time.perf_counter()
                    answer = client.get(path)
                    times.append(time.perf_counter() - begun)
                    assert answer.status_code == 200, (path, answer.status_code)
                    body = answer.content
                css = sum(
                    len(client.get(href).content)
                    for href in re.findall(rb'<link rel="stylesheet" href="([^"]+)"', body)
                    for href in [href.decode()]
                )
                print(
                    f"{name:<42} {statistics.median(times) * 1000:>10.1f} "
                    f"{min(times) * 1000:>8.1f} {len(body) / 1024:>8.1f} "
                    f"{(len(body) + css) / 1024:>8.1f}"
                )
        app.close()


if __name__ == "__main__":
    main()
