"""The reports drawn: pure functions from the read model (``engine.app.progress``,
``engine.app.council``) to text a browser, a printer or a screen reader takes as it is.

    words.py     the words of the reports in Dutch and English; dates and spans of days as
                 people say them (never an ISO duration)
    svg.py       what the drawings share: escaping, colours, an accessible opening
    timeline.py  the Gantt-like timeline: planned against actual, pauses, knooppunten, today
    charts.py    wijken per phase, paused per pause button, overdue knooppunten over time
    council.py   the council progress report as one self-contained, printable HTML page

No I/O here: the command line (``adapters/cli/report.py``), the HTTP API
(``adapters/http/routes/reports.py``) and the dashboard write or serve what these return;
``adapters/pdf.py`` prints the page with headless Chromium.
"""
