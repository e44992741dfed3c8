"""The command line on a clock of the test's choosing, in a process of its own: for tests that
run the scheduler, a reminder pass or the demo seeding at a fixed moment.

    python tests/clocked.py 2026-11-20T10:00 scheduler --interval 2s

The moment reaches the application through the composition root (``main(obj=clock)``, which
becomes ``Application(clock=...)``), never through an option a user could give: ``--now`` is
for views and dry runs only, and what is written carries the real time of whoever runs it.
A moment without an offset is Dutch local time, as on the command line.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

__all__ = ["clocked"]


def clocked(moment: str) -> list[str]:
    """The start of a command line that runs ``wijkkompas`` with its clock at ``moment``."""
    return [sys.executable, str(Path(__file__).resolve()), moment]


if __name__ == "__main__":
    # Run as a file, this folder would come first on the path, and its cli/ (the command
    # line's tests) would hide the command line itself.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

    from cli import main
    from engine.testing import FrozenClock

    main(sys.argv[2:], prog_name="wijkkompas", obj=FrozenClock(datetime.fromisoformat(sys.argv[1])))
