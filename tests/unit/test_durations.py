from datetime import date

import pytest

from engine.workflow.durations import Duration, DurationSyntaxError, add_months


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P30D", Duration(days=30)),
        ("P6W", Duration(weeks=6)),
        ("P3M", Duration(months=3)),
        ("P1Y6M", Duration(years=1, months=6)),
        ("P1Y2M3W4D", Duration(years=1, months=2, weeks=3, days=4)),
        ("P0D", Duration()),
    ],
    ids=lambda v: str(v),
)
def test_parses_iso_date_durations(text, expected):
    assert Duration.parse(text) == expected
    assert str(Duration.parse(text)) == text


@pytest.mark.parametrize("text", ["P", "30D", "P3X", "PT5H", "P1DT2H", "p30d ", "P-3D", ""])
def test_rejects_what_is_not_a_date_duration(text):
    with pytest.raises(DurationSyntaxError):
        Duration.parse(text)


def test_time_parts_are_refused_with_a_reason():
    with pytest.raises(DurationSyntaxError, match="time part"):
        Duration.parse("PT12H")


def test_months_clamp_to_the_end_of_the_month():
    assert Duration(months=1).after(date(2027, 1, 31)) == date(2027, 2, 28)
    assert Duration(months=1).after(date(2028, 1, 31)) == date(2028, 2, 29)
    assert Duration(years=1).after(date(2028, 2, 29)) == date(2029, 2, 28)


def test_before_is_the_inverse_for_whole_days():
    assert Duration(days=30).before(Duration(days=30).after(date(2026, 5, 1))) == date(2026, 5, 1)


def test_add_months_crosses_years_both_ways():
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert add_months(date(2026, 2, 15), -3) == date(2025, 11, 15)


def test_a_remembered_duration_is_the_one_read(monkeypatch):
    """Texts read before are answered from memory (one per text), which starts over when
    full; a text that is no duration is refused every time it is asked."""
    monkeypatch.setattr("engine.workflow.durations._REMEMBERED", 3)
    monkeypatch.setattr("engine.workflow.durations._PARSED", {})
    texts = ["P30D", "P6W", "P3M", "P1Y6M", "P30D", " P6W ", "P0D"]
    for _ in range(2):
        for text in texts:
            assert Duration.parse(text) == Duration._read(text)
            assert str(Duration.parse(text)) == str(Duration._read(text))
    assert Duration.parse("P2W") is Duration.parse("P2W")
    from engine.workflow import durations

    assert len(durations._PARSED) <= 4
    for _ in range(2):
        with pytest.raises(DurationSyntaxError):
            Duration.parse("PT1H")
