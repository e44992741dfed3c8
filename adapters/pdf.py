"""HTML to PDF with headless Chromium (Debian's ``chromium``): ``--headless --print-to-pdf``.

The browser is the one named by the ``chromium`` setting, else the first of ``BROWSERS`` on
PATH. Without one, ``NoBrowser`` (bad input, exit 2) says how to install it. The HTML is
written to a temporary file and printed from there, with no network (the report has no
external files) and no sandbox only when running as root (Chromium refuses otherwise).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from engine.errors import InputError

__all__ = ["BROWSERS", "NoBrowser", "PdfFailed", "find_browser", "html_to_pdf"]

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = (
    "install headless Chromium (Debian/Ubuntu: sudo apt-get install chromium), or name it with "
    "the setting chromium (WIJKKOMPAS_CHROMIUM=/path/to/chromium); or write --format html and "
    "print that"
)
TIMEOUT = 120.0
"""Seconds Chromium may take to print."""


class NoBrowser(InputError):
    """No Chromium to print a PDF with."""

    def __init__(self, named: str | None) -> None:
        self.named = named
        where = (
            f"no browser at '{named}' (setting chromium)"
            if named
            else ("no Chromium found on PATH (" + ", ".join(BROWSERS) + ")")
        )
        super().__init__(f"cannot write a PDF: {where}; {INSTALL}")


class PdfFailed(InputError):
    """Chromium ran but printed no PDF."""

    def __init__(self, browser: str, detail: str) -> None:
        super().__init__(f"cannot write a PDF: {browser} printed none ({detail})")


def find_browser(named: str | None = None) -> str:
    """The path of the Chromium to print with: ``named`` (a path or a name on PATH), else
    the first of ``BROWSERS`` on PATH; NoBrowser when there is none."""
    if named:
        found = shutil.which(named)
        if found is None:
            raise NoBrowser(named)
        return found
    for name in BROWSERS:
        found = shutil.which(name)
        if found is not None:
            return found
    raise NoBrowser(None)


def html_to_pdf(html: str, target: Path, *, browser: str, timeout: float = TIMEOUT) -> None:
    """Print ``html`` to the PDF file ``target`` with ``browser``."""
    with tempfile.TemporaryDirectory(prefix="wijkkompas-pdf-") as folder:
        page = Path(folder) / "report.html"
        page.write_text(html, encoding="utf-8")
        printed = Path(folder) / "report.pdf"
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--print-to-pdf={printed}",
            page.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise PdfFailed(browser, f"no answer within {timeout:g} seconds") from None
        except OSError as exc:
            raise PdfFailed(browser, exc.strerror or str(exc)) from None
        if not printed.is_file() or printed.stat().st_size == 0:
            last = (done.stderr or "").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise PdfFailed(browser, last[0])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(printed, target)
