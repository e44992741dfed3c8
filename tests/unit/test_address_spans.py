"""Where free text names an e-mail address (``engine.runtime.personal.address_spans``): what
``finditer`` of its pattern finds, found from each ``@`` so that a long run of letters costs
no more than its length (the pattern's engine tried every position of it to its end)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.runtime.personal import _ADDRESS, _matches, address_spans

# The characters that make or break an address, a few of each kind, so that drawn texts hold
# addresses, near misses and runs of them side by side.
ALPHABET = "ab.@'-_%+öé1 ,;:()<>\"nlс"


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_the_spans_are_the_patterns_matches(text: str) -> None:
    assert list(_matches(text)) == [found.span() for found in _ADDRESS.finditer(text)]


def test_addresses_side_by_side_in_quotes_and_beyond_ascii() -> None:
    text = "Mail 'J.Smit@noord.example', ...p.devries@noord.example.a@b.nl.c@d.nl jörg@müller.nl."
    assert [address for _, _, address in address_spans(text)] == [
        "j.smit@noord.example",
        "p.devries@noord.example",
        "a@b.nl",
        "c@d.nl",
        "jörg@müller.nl",
    ]
    assert list(_matches("x" * 10_000)) == []
    assert list(_matches("x" * 5_000 + "@" + "y" * 4_990 + ".nl")) == [(0, 9_994)]
