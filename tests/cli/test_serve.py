"""``wijkkompas serve`` settles what it made while starting: the garbage collector's full
collections then leave it alone (a pause of about 140 ms each over the whole application)."""

from __future__ import annotations

import gc

from adapters.cli.serve import settle


def test_settling_freezes_what_is_alive_and_leaves_new_objects_to_the_collector() -> None:
    gc.unfreeze()
    alive = [object() for _ in range(10)], {"a": [1, 2, 3]}
    try:
        settle()
        assert gc.get_freeze_count() > 0
        assert not any(o is alive[1] for o in gc.get_objects())  # frozen: not walked
        later = {"b": [4]}
        assert any(o is later for o in gc.get_objects())
    finally:
        gc.unfreeze()
