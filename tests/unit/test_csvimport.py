"""Reading instances from CSV (engine/app/csvimport.py): the delimiter by the header row."""

from __future__ import annotations

import pytest

from engine.app.csvimport import detect_delimiter, read_instances
from engine.errors import InvalidValue


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        pytest.param("key,title,workflow", ",", id="comma"),
        pytest.param("key;title;workflow", ";", id="semicolon"),
        pytest.param("key\ttitle\tworkflow", "\t", id="tab"),
        pytest.param('"key;x",title,workflow', ",", id="most-wins"),
        pytest.param("key", ",", id="none-comma"),
    ],
)
def test_the_header_row_tells_the_delimiter(header: str, delimiter: str) -> None:
    assert detect_delimiter(header) == delimiter


def test_semicolons_leave_commas_in_titles_alone() -> None:
    found = read_instances(
        "\ufeffkey;title;areas\r\nwk-a;Noord, oost;BU03440100 wk034401\r\n",
        workflow="wijkkompas",
        regie="gemeente",
    )
    assert found.delimiter == ";"
    [item] = found.items
    assert (item.key, item.title, item.areas) == ("wk-a", "Noord, oost", ("BU03440100", "wk034401"))


def test_every_problem_names_the_delimiter() -> None:
    with pytest.raises(
        InvalidValue, match=r"fewer cells than the header \(read with delimiter tab"
    ):
        read_instances("key\ttitle\nwk-a\n", workflow="w", regie="r")
