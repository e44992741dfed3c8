import subprocess
import sys
import textwrap
from datetime import date

import pytest

from engine.workflow import yamlsource
from engine.workflow.yamlsource import read_yaml


@pytest.fixture(autouse=True, params=["libyaml", "python"])
def composer(request, monkeypatch):
    """Every test runs with the libyaml composer and the pure-Python fallback."""
    if request.param == "python":
        monkeypatch.setattr(yamlsource, "_COMPOSER", yamlsource._ComposeOnly)
    return request.param


def test_yes_no_on_off_stay_text_and_only_true_false_are_booleans():
    doc = read_yaml("a: [yes, no, on, off, y, n, true, false, True]\n")
    assert doc.data["a"] == ["yes", "no", "on", "off", "y", "n", True, False, True]


def test_numbers_and_dates_remember_how_they_were_written():
    doc = read_yaml("id: 1.10\nv: 007\nd: 2027-06-30\n")
    assert doc.data["id"].yaml_text == "1.10"
    assert doc.data["v"] == 7
    assert doc.data["v"].yaml_text == "007"
    assert doc.data["d"] == date(2027, 6, 30)


def test_keys_are_always_text():
    doc = read_yaml("1: a\non: b\n2027-01-01: c\n")
    assert list(doc.data) == ["1", "on", "2027-01-01"]


def test_duplicate_keys_are_reported_not_overwritten():
    doc = read_yaml("a: 1\nb: 2\na: 3\n")
    assert doc.data["a"] == 1
    assert doc.problems == [(3, 1, "duplicate key 'a' (first written on line 1)")]


def test_python_tags_cannot_construct_anything():
    doc = read_yaml("a: !!python/object/apply:os.system ['echo pwned']\n")
    assert doc.data["a"] is None
    assert "not allowed" in doc.problems[0][2]
    assert doc.problems[0][:2] == (1, 4)


def test_custom_tags_are_refused():
    doc = read_yaml("a: !include other.yaml\n")
    assert "not allowed" in doc.problems[0][2]


def test_alias_bombs_are_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    doc = read_yaml("\n".join(lines) + "\n")
    assert doc.data is None
    assert "more than" in doc.problems[-1][2]


def test_merge_keys_and_aliases_are_plain_data():
    doc = read_yaml("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert doc.data["use"] == {"x": 1, "y": 3}


def test_positions_are_one_based_line_and_column():
    doc = read_yaml("top:\n  - id: one\n    title: One\n")
    assert doc.positions.values[("top", 0, "title")] == (3, 12)
    assert doc.positions.keys[("top", 0, "title")] == (3, 5)
    assert doc.positions.of(("top", 0, "nothing", 3)) == (2, 5)


def test_syntax_errors_point_at_the_problem():
    doc = read_yaml("a: [1, 2\nb: 3\n")
    assert doc.data is None
    line, _, message = doc.problems[0]
    assert message.startswith("YAML syntax")
    assert line == 2


def test_empty_document_is_a_problem():
    assert read_yaml("# just a comment\n").problems == [(1, 1, "the file is empty")]


def test_nesting_far_past_the_bound_is_a_problem_not_a_crash(composer):
    """The Python composer recurses once per level of nesting, before the converter's bound
    of MAX_DEPTH levels is looked at: a hundred thousand nested lists (100 kB) ended in
    RecursionError (libyaml stops at a thousand levels by itself, with a message of its own).
    Run apart, so that a crash is this test's failure alone."""
    script = textwrap.dedent(
        f"""\
        from engine.workflow import yamlsource
        if {composer!r} == "python":
            yamlsource._COMPOSER = yamlsource._ComposeOnly
        deep = 100_000
        for text in ("[" * deep, "- " * deep + "x\\n", "a: " + "{{a: " * deep):
            print(yamlsource.read_yaml(text).problems)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = done.stdout.splitlines()
    assert len(found) == 3
    said = "nested more than 40 levels deep" if composer == "python" else "maximum nesting depth"
    assert all(said in line for line in found), found
