"""Screenshots of the dashboard's pages at desktop and phone width, into docs/img/.

A script, not a test (``make screenshots``): it seeds the demo programme into a temporary SQLite
file, serves it on a free port of 127.0.0.1, signs in as the demo programme office in headless
Chromium (Debian's, by its path: WIJKKOMPAS_CHROMIUM, default /usr/bin/chromium) and saves one
PNG per page and width. Look at them before you commit them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "img"
PASSWORD = "wijkkompas-demo"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
PAGES = {
    "portfolio": "/",
    "instance": "/instances/wk-berkum",
    "refusal": "/instances/wk-berkum",
    "reminders": "/reminders",
    "workflows": "/workflows",
    "timeline": "/timeline",
    "charts": "/charts",
    "council": "/council?from=2026-01-01&to=2026-12-31",
    "council-report": "/council/report.html?from=2026-01-01&to=2026-12-31",
    "migrations": "/migrations",
    "signin": "/signin",
}


def main() -> int:
    sys.path.insert(0, str(REPO))
    import uvicorn
    from playwright.sync_api import sync_playwright

    from adapters.http.app import create_app
    from engine.compose import Application

    chromium = os.environ.get("WIJKKOMPAS_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/demo.db"
        cli = [sys.executable, "-m", "cli", "--db", db]
        env = {**os.environ, "WIJKKOMPAS_MAILDIR": f"{tmp}/maildir"}
        subprocess.run([*cli, "demo"], check=True, env=env, capture_output=True)
        subprocess.run(
            [*cli, "principal", "password", "gemeente-zwolle", "programmabureau"],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            env=env,
            capture_output=True,
        )
        # The revision of the Wijkkompas in the test data, for the migrations page's dry run
        # (on the search path only after the demo started its wijken on the shipped version).
        revision = Path(tmp) / "revision"
        revision.mkdir()
        shutil.copy(REPO / "tests" / "data" / "wijkkompas-v3.yaml", revision)
        app = Application.configure(
            given={"db": db, "workflows": (str(revision),)},
            env={"WIJKKOMPAS_MAILDIR": f"{tmp}/m"},
        )
        server = uvicorn.Server(
            uvicorn.Config(create_app(app), host="127.0.0.1", port=0, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for width_name, (width, height) in WIDTHS.items():
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                page.goto(url + "/signin")
                page.screenshot(path=OUT / f"signin-{width_name}.png")
                page.get_by_label("Organisatie").fill("gemeente-zwolle")
                page.get_by_label("Account").fill("programmabureau")
                page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
                page.get_by_role("button", name="Aanmelden").first.click()
                for name, path in PAGES.items():
                    if name == "signin":
                        continue
                    page.goto(url + path)
                    if name == "refusal":
                        page.get_by_role("button", name="Ga door naar de volgende fase").click()
                        page.locator("#refusal-advance").scroll_into_view_if_needed()
                        page.screenshot(path=OUT / f"{name}-{width_name}.png")
                        continue
                    if name == "migrations":
                        plan = REPO / "tests" / "data" / "wijkkompas-2-to-3.yaml"
                        page.get_by_label("Het plan (YAML)").fill(plan.read_text("utf-8"))
                        page.get_by_label("Alleen deze wijken").fill("wk-berkum wk-holtenbroek")
                        page.get_by_role("button", name="Controleren (er verandert niets)").click()
                        page.locator("#checked").scroll_into_view_if_needed()
                    whole = width_name == "desktop" and name in (
                        "portfolio",
                        "instance",
                        "timeline",
                        "charts",
                        "migrations",
                    )
                    page.screenshot(path=OUT / f"{name}-{width_name}.png", full_page=whole)
                    print(f"docs/img/{name}-{width_name}.png")
                context.close()
            browser.close()
        server.should_exit = True
        thread.join(timeout=10)
        app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
