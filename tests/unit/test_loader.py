"""The loader and validator: each kind of problem, reported with its exact line and column."""

from __future__ import annotations

import textwrap

import pytest

from engine.errors import DefinitionError
from engine.workflow.loader import inspect_text, load_file, load_text

BARE = """\
key: t
version: 1
title: T
"""
HEAD = BARE + "tracks: {A: Bewoners}\n"


def findings(body: str, head: str = HEAD) -> list[str]:
    """'LINE:COL: severity: message' for every problem in HEAD + body."""
    _, problems = inspect_text(head + textwrap.dedent(body), "t.yaml")
    return [f"{p.line}:{p.column}: {p.severity}: {p.message}" for p in problems]


def test_a_valid_file_has_no_findings():
    assert (
        findings(
            """\
        phases:
          - id: p1
            title: P1
            duration: P30D
            milestones:
              - {id: m1, title: M1, tracks: [A], due: P10D}
        """
        )
        == []
    )


def test_unknown_key_points_at_the_key_and_suggests_the_right_one():
    assert findings(
        """\
        phases:
          - id: p1
            titel: P1
            duration: P30D
        """,
        head=BARE,
    ) == [
        "5:5: error: phase 'p1' is missing the required key 'title'",
        "6:5: error: unknown key 'titel' in phase 'p1'; did you mean 'title'?",
    ]


def test_unknown_top_level_key():
    result = findings(
        "phases: [{id: p, title: P, duration: P1D}]\nversoin: 2\n",
        head="key: t\nversion: 1\ntitle: T\n",
    )
    assert result == ["5:1: error: unknown key 'versoin' in the workflow; did you mean 'version'?"]


def test_wrong_types_say_what_was_expected():
    assert findings(
        """\
        phases:
          - id: p1
            title: [not, text]
            duration: P30D
            milestones:
              - {id: m1, title: M1, required: yes, tracks: A}
        """,
        head=BARE,
    ) == [
        "6:12: error: phase 'p1', title: expected text, got a list",
        "9:39: error: milestone 'm1', required: expected true or false, got 'yes' "
        "(yes/no/on/off are text in workflow files; write true or false)",
        "9:52: error: milestone 'm1', tracks: expected a list, got 'A'",
    ]


def test_reminders_for_nobody_are_refused():
    assert findings(
        """\
        reminders: {to: [], escalate_to: []}
        phases:
          - id: p1
            title: P1
            duration: P30D
            milestones:
              - {id: m1, title: M1, tracks: [A], reminders: {to: []}}
        """
    ) == [
        "5:17: error: the workflow, reminders.to: needs at least 1 item(s)",
        "5:34: error: the workflow, reminders.escalate_to: needs at least 1 item(s)",
        "11:58: error: milestone 'm1', reminders.to: needs at least 1 item(s)",
    ]


def test_bad_durations_are_explained():
    assert findings(
        """\
        phases:
          - id: p1
            title: P1
            duration: 30 days
            milestones:
              - {id: m1, title: M1, tracks: [A], due: PT5H}
        """
    ) == [
        "8:15: error: phase 'p1', duration: '30 days' is not an ISO 8601 duration; write for "
        "example P30D (30 days), P6W (6 weeks), P3M (3 months), P1Y6M (a year and a half)",
        "10:47: error: milestone 'm1', due.offset: 'PT5H' has a time part; only days, weeks, "
        "months and years are allowed (for example P30D)",
    ]


def test_duplicate_ids_name_the_first_use():
    assert findings(
        """\
        phases:
          - id: p1
            title: P1
            duration: P30D
            milestones:
              - {id: m1, title: M1, tracks: [A]}
              - {id: m1, title: M1 again, tracks: [A]}
          - id: p1
            title: P1 again
            duration: P30D
        pause_buttons:
          - {id: b, title: B}
          - {id: b, title: B again}
        """
    ) == [
        "11:14: error: duplicate milestone id 'm1' (first used in phase 'p1')",
        "12:9: error: duplicate phase id 'p1' (first used by phase 1)",
        "17:10: error: duplicate pause button id 'b'",
    ]


def test_references_to_things_that_do_not_exist():
    result = findings(
        """\
        regie: [gemeente, bewonersinitiatief]
        phases:
          - id: start
            title: Start
            duration: P30D
            regie: [gemeente, corporatie]
            milestones:
              - {id: m1, title: M1, tracks: [A, Z], owner: netbeheerder}
              - {id: m2, title: M2, tracks: [A], depends_on: [m3], due: {after: mx, offset: P5D}}
            gate: {milestones: [m1, m22], approvals: [colege], children: begin}
        pause_buttons:
          - {id: b, title: B, phases: [strat]}
        returns:
          - {id: r, title: R, from: [end], to: start, reopen: [m9]}
        stop: {from: [start, nope]}
        """
    )
    assert result == [
        "10:23: error: unknown regie type 'corporatie' (known: gemeente, bewonersinitiatief)",
        "12:41: error: unknown track 'Z' (known: A)",
        "12:52: error: unknown owner 'netbeheerder' (known: regie, gemeente, "
        "bewonersinitiatief) (an owner is 'regie', a regie type or a party from 'parties')",
        "13:55: error: unknown milestone 'm3' (known: m1, m2)",
        "13:73: error: unknown milestone 'mx' (known: m1, m2)",
        "14:29: error: unknown milestone 'm22'; did you mean 'm2'?",
        "14:47: error: unknown approval 'colege'; did you mean 'college'?",
        "14:66: error: unknown phase 'begin' (known: start)",
        "16:32: error: unknown phase 'strat'; did you mean 'start'?",
        "18:30: error: unknown phase 'end' (known: start)",
        "18:56: error: unknown milestone 'm9' (known: m1, m2)",
        "19:22: error: unknown phase 'nope' (known: start)",
    ]


def test_depends_on_cycles_are_reported_once_with_the_chain():
    result = findings(
        """\
        phases:
          - id: p1
            title: P1
            duration: P90D
            milestones:
              - {id: a, title: A, tracks: [A], depends_on: [c], required: false}
              - {id: b, title: B, tracks: [A], depends_on: [a], required: false}
              - {id: c, title: C, tracks: [A], depends_on: [b], required: false}
              - {id: d, title: D, tracks: [A], depends_on: [d], required: false}
        """
    )
    assert result == [
        "10:53: error: depends_on form a cycle: a → c → b → a",
        "13:53: error: milestone 'd' depends on itself",
    ]


def test_due_dates_that_count_from_each_other_are_a_cycle():
    result = findings(
        """\
        phases:
          - id: p1
            title: P1
            duration: P90D
            milestones:
              - {id: a, title: A, tracks: [A], due: {after: b, offset: P1D}}
              - {id: b, title: B, tracks: [A], due: {after: a, offset: P1D}}
        """
    )
    assert result == ["10:53: error: due dates form a cycle: a → b → a"]


def test_a_milestone_due_after_its_phase_ends_is_a_warning():
    result = findings(
        """\
        phases:
          - id: p1
            title: P1
            duration: P30D
            milestones:
              - {id: a, title: A, tracks: [A], due: P45D}
              - {id: b, title: B, tracks: [A], due: {after: a, offset: P2M}}
        """
    )
    assert result == [
        "10:45: warning: milestone 'a' falls due about 45 days into phase 'p1', after its "
        "planned end (P30D)",
        "11:45: warning: milestone 'b' falls due about 104 days into phase 'p1', after its "
        "planned end (P30D)",
    ]
    # warnings do not fail validation
    body = (
        "phases:\n  - {id: p1, title: P1, duration: P30D,\n"
        "     milestones: [{id: a, title: A, tracks: [A], due: P45D}]}\n"
    )
    assert len(load_text(HEAD + body).warnings) == 1


def test_gates_that_can_never_be_met():
    result = findings(
        """\
        phases:
          - id: p1
            title: P1
            duration: P90D
            milestones:
              - {id: a, title: A, tracks: [A], depends_on: [late]}
            gate: {milestones: [a, late]}
          - id: p2
            title: P2
            duration: P90D
            regie: []
            milestones:
              - {id: late, title: Late, tracks: [A]}
        """
    )
    assert result == [
        "10:53: warning: 'a' depends on 'late' of the later phase 'p2', so it cannot be done "
        "before that phase",
        "11:25: error: the gate of phase 'p1' can never be met: milestone 'a' depends on "
        "'late' of the later phase 'p2'",
        "11:28: error: the gate of phase 'p1' can never be met: milestone 'late' belongs to "
        "the later phase 'p2'",
        "15:12: error: phase 'p2' allows no regie type, so it can never be entered",
    ]


def test_pause_button_on_no_phase_and_returns_that_do_not_go_back():
    result = findings(
        """\
        phases:
          - {id: p1, title: P1, duration: P30D}
          - {id: p2, title: P2, duration: P30D}
        pause_buttons:
          - {id: b, title: B, phases: []}
        returns:
          - {id: r, title: R, from: [p1], to: p2}
          - {id: s, title: S, from: all, to: p2}
        """,
        head=BARE,
    )
    assert result == [
        "8:31: error: pause button 'b' can be pressed in no phase; list phases or write 'all'",
        "10:30: error: return 'r' must go back to an earlier phase, but 'p2' does not come "
        "before 'p1'",
        "11:38: error: return 's' goes to the last phase: there is no later phase to return from",
    ]


def test_reserved_phase_ids_and_bad_ids():
    result = findings(
        """\
        phases:
          - {id: completed, title: Done, duration: P30D}
          - {id: "no spaces", title: X, duration: P30D}
        """,
        head=BARE,
    )
    assert result == [
        "5:10: error: 'completed' is reserved for the end state; pick another phase id",
        "6:10: error: phase 'no spaces', id: 'no spaces' is not a valid id: use ASCII letters "
        "(a-z, A-Z), digits, '-', '_' or '.', starting with a letter or digit (at most 64)",
    ]


def test_an_unused_track_is_a_warning():
    result = findings(
        "phases: [{id: p, title: P, duration: P1D}]\n",
        head="key: t\nversion: 1\ntitle: T\ntracks: {A: Bewoners, B: Eigenaren}\n",
    )
    assert result == [
        "4:13: warning: track 'A' is used by no milestone",
        "4:26: warning: track 'B' is used by no milestone",
    ]


def test_a_file_with_many_mistakes_gets_all_of_them_reported(write):
    path = write(
        """\
        key: Bad Key
        version: one
        title: Many mistakes
        tracks: {A: Bewoners}
        phases:
          - id: start
            title: Start
            duration: P3X
            milestones:
              - id: m1
                titel: Oops
                tracks: [A, Z]
                depends_on: [m2]
              - id: m2
                title: Two
                depends_on: [m1]
                due: {after: m1, offset: P5D}
            gate: {approvals: [colege]}
        pause_buttons:
          - {id: p, title: P, phases: []}
        """
    )
    with pytest.raises(DefinitionError) as caught:
        load_file(path)
    lines = [f"{p.line}:{p.column}: {p.message}" for p in caught.value.errors]
    assert lines == [
        "1:6: the workflow, key: 'Bad Key' is not a valid key: use lower-case ASCII letters "
        "(a-z), digits, '-' and '_', starting with a letter or digit (at most 64)",
        "2:10: the workflow, version: expected a whole number, got 'one'",
        "8:15: phase 'start', duration: 'P3X' is not an ISO 8601 duration; write for example "
        "P30D (30 days), P6W (6 weeks), P3M (3 months), P1Y6M (a year and a half)",
        "10:9: milestone 'm1' is missing the required key 'title'",
        "10:13: the gate of phase 'start' can never be met: milestone 'm1' is on a "
        "depends_on cycle",
        "11:9: unknown key 'titel' in milestone 'm1'; did you mean 'title'?",
        "12:21: unknown track 'Z' (known: A)",
        "13:22: depends_on form a cycle: m1 → m2 → m1",
        "14:13: the gate of phase 'start' can never be met: milestone 'm2' is on a "
        "depends_on cycle",
        "18:24: unknown approval 'colege'; did you mean 'college'?",
        "20:31: pause button 'p' can be pressed in no phase; list phases or write 'all'",
    ]
    assert all(str(p).startswith(f"{path}:") for p in caught.value.problems)


def test_yaml_syntax_errors_are_located():
    with pytest.raises(DefinitionError) as caught:
        load_text("key: t\nphases: [\n  {id: a\n", "broken.yaml")
    (problem,) = caught.value.problems
    assert str(problem).startswith("broken.yaml:4:1: error: YAML syntax")


def test_a_list_at_the_top_is_not_a_workflow():
    with pytest.raises(DefinitionError, match="a mapping of keys"):
        load_text("- a\n- b\n", "list.yaml")


def test_missing_file_and_non_utf8(tmp_path):
    with pytest.raises(DefinitionError, match="no such file"):
        load_file(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DefinitionError, match="not UTF-8"):
        load_file(bad)


def test_numeric_looking_ids_keep_their_text():
    loaded = load_text(
        HEAD
        + "phases:\n  - id: 1\n    title: Een\n    duration: P30D\n    milestones:\n"
        + "      - {id: 1.10, title: M, tracks: [A]}\n      - {id: 1.1, title: N, tracks: [A]}\n"
    )
    assert loaded.definition.phases[0].id == "1"
    assert [m.id for m in loaded.definition.phases[0].milestones] == ["1.10", "1.1"]


def test_shorthand_forms_are_accepted():
    loaded = load_text(
        textwrap.dedent(
            """\
            key: s
            version: 1
            title: S
            tracks: {A: Bewoners, B: {title: Eigenaren, description: Zakelijk}}
            regie: [gemeente, bewonersinitiatief]
            phases:
              - id: a
                title: A
                duration: P1Y
                milestones:
                  - {id: m1, title: M1, tracks: [A], due: 2027-06-30}
                  - {id: m2, title: M2, tracks: [B], due: {working_days: 10}, reminders: false}
                gate: {children: a}
            pause_buttons: [{id: b, title: B, phases: all}]
            """
        )
    )
    d = loaded.definition
    assert d.tracks["A"].title == "Bewoners"
    assert d.tracks["B"].description == "Zakelijk"
    assert d.regie == {"gemeente": "Gemeente", "bewonersinitiatief": "Bewonersinitiatief"}
    m1, m2 = d.phases[0].milestones
    assert str(m1.due.date_) == "2027-06-30"
    assert m2.due.working_days == 10
    assert m2.reminders.enabled is False
    assert d.phases[0].gate.children.reached == "a"
    assert d.pause_buttons[0].phases is None  # 'all'


def test_sizes_beyond_any_plan_are_errors_not_crashes():
    assert findings(
        """\
        phases:
          - {id: a, title: A, duration: P99999999999D}
          - {id: b, title: B, duration: P9000Y}
          - id: c
            title: C
            duration: P1Y
            milestones:
              - {id: m, title: M, tracks: [A], due: {working_days: 99999999999999}}
        """
    ) == [
        "6:33: error: phase 'a', duration: 'P99999999999D' is longer than a hundred years",
        "7:33: error: phase 'b', duration: 'P9000Y' is longer than a hundred years",
        "12:60: error: milestone 'm', due.working_days: must be at most 26000, got 99999999999999",
    ]


def test_ids_keys_and_durations_are_plain_ascii_on_one_line():
    assert findings(
        """\
        phases:
          - {id: "a\\n", title: A, duration: "P\u0663D"}
        """,
        head='key: "t\\n"\nversion: 1\ntitle: T\n',
    ) == [
        "1:6: error: the workflow, key: 't\\n' is not a valid key: use lower-case ASCII "
        "letters (a-z), digits, '-' and '_', starting with a letter or digit (at most 64)",
        "5:10: error: phase 'a\\n', id: 'a\\n' is not a valid id: use ASCII letters (a-z, "
        "A-Z), digits, '-', '_' or '.', starting with a letter or digit (at most 64)",
        "5:37: error: phase 'a\\n', duration: 'P\u0663D' is not an ISO 8601 duration; write "
        "for example P30D (30 days), P6W (6 weeks), P3M (3 months), P1Y6M (a year and a half)",
    ]


def test_a_mapping_that_merges_itself_and_nesting_without_end_are_located():
    merged = findings("x: &x\n  a: 1\n  <<: *x\n")
    assert "5:4: error: '<<' merges the mapping it is in" in merged
    deep = "phases:\n  - {id: a, title: A, duration: P1D, gate: " + "{a: " * 60 + "1" + "}" * 61
    assert any("nested more than 40 levels deep" in f for f in findings(deep))


def test_characters_yaml_refuses_and_bytes_that_are_not_utf8_are_located(tmp_path):
    assert findings('title: "A\x01B"\n', head="key: t\nversion: 1\n") == [
        "3:10: error: control characters are not allowed in YAML: '\\x01'"
    ]
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"key: t\nversion: 1\ntitle: Caf\xe9\n")
    with pytest.raises(DefinitionError) as caught:
        load_file(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3:11: error: not UTF-8 text: byte 0xe9 (invalid continuation byte)"
    ]


def test_ids_made_up_for_entries_without_one_are_never_offered():
    found = findings(
        """\
        phases:
          - id: a
            title: A
            duration: P30D
            milestones:
              - {title: M, tracks: [A]}
              - {id: m2, title: M2, tracks: [A], depends_on: [mx]}
          - {title: B, duration: P30D}
        pause_buttons: [{id: p, title: P, phases: [zz]}]
        """
    )
    assert any("unknown milestone 'mx' (known: m2)" in f for f in found)
    assert any("unknown phase 'zz' (known: a)" in f for f in found)
    assert not any("missing-" in f for f in found)


def test_ids_are_ascii_and_the_message_offers_the_ascii_spelling():
    assert findings(
        """\
        parties: {netbeheerder-ö: Netbeheerder}
        phases:
          - id: tracé
            title: Tracé
            duration: P30D
            milestones:
              - {id: ﬁnanciering, title: F, tracks: [A]}
              - {id: straße, title: S, tracks: [A]}
        """,
        head='key: "Zoë-wijk"\nversion: 1\ntitle: T\ntracks: {A: Bewoners}\n',
    ) == [
        "1:6: error: the workflow, key: 'Zoë-wijk' is not a valid key: use lower-case ASCII "
        "letters (a-z), digits, '-' and '_', starting with a letter or digit (at most 64); "
        "write 'zoe-wijk'",
        "5:11: error: 'netbeheerder-ö' is not a valid id in parties: use ASCII letters (a-z, "
        "A-Z), digits, '-', '_' or '.', starting with a letter or digit (at most 64); write "
        "'netbeheerder-o'",
        "7:9: error: phase 'tracé', id: 'tracé' is not a valid id: use ASCII letters (a-z, "
        "A-Z), digits, '-', '_' or '.', starting with a letter or digit (at most 64); write "
        "'trace'",
        "11:14: error: milestone 'ﬁnanciering', id: 'ﬁnanciering' is not a valid id: use ASCII "
        "letters (a-z, A-Z), digits, '-', '_' or '.', starting with a letter or digit (at most "
        "64); write 'financiering'",
        "12:14: error: milestone 'straße', id: 'straße' is not a valid id: use ASCII letters "
        "(a-z, A-Z), digits, '-', '_' or '.', starting with a letter or digit (at most 64)",
    ]


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("99999999999999999999999", "must be at most 2147483647, got 99999999999999999999999"),
        ("2147483648", "must be at most 2147483647, got 2147483648"),
        ("0", "must be at least 1, got 0"),
    ],
)
def test_a_version_is_a_number_a_database_can_hold(version, message):
    head = f"key: t\nversion: {version}\ntitle: T\n"
    assert findings("phases: [{id: a, title: A, duration: P1D}]\n", head=head) == [
        f"2:10: error: the workflow, version: {message}"
    ]


def test_fixed_dates_fall_between_1900_and_2199():
    assert findings(
        """\
        phases:
          - id: a
            title: A
            duration: P1Y
            milestones:
              - {id: m1, title: M1, tracks: [A], due: 0001-01-02}
              - {id: m2, title: M2, tracks: [A], not_before: {date: 2200-01-01}}
              - {id: m3, title: M3, tracks: [A], due: {working_days: -1}}
              - {id: m4, title: M4, tracks: [A], due: 1900-01-01, not_before: 2199-12-31}
        """
    ) == [
        "10:47: error: milestone 'm1', due.date: must be on or after 1900-01-01, got 0001-01-02",
        "11:61: error: milestone 'm2', not_before.date: must be on or before 2199-12-31, got "
        "2200-01-01",
        "12:62: error: milestone 'm3', due.working_days: must be at least 0, got -1",
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [("---\n", 2), ("~\n", 1), ("null\n", 1), ("# a comment\n\nnull # and nothing else\n", 3)],
)
def test_a_file_that_holds_only_null_is_an_error_with_its_place(text, line):
    """`---` or `null` alone was "invalid (0 error(s))" with no FILE:LINE at all, and the
    catalog listed it as a valid workflow."""
    definition, problems = inspect_text(text, "t.yaml")
    assert definition is None
    assert [(p.line, p.severity) for p in problems] == [(line, "error")]
    assert "the file holds no data (null)" in problems[0].message
    with pytest.raises(DefinitionError) as caught:
        load_text(text, "t.yaml")
    assert [p.line for p in caught.value.problems] == [line]


def test_a_value_written_over_a_merged_one_is_located_where_it_is_written():
    """A phase merged from another (`<<: *first`) with its own bad duration: the error pointed
    at the anchored phase's good duration (line 8), not at the one written (line 12)."""
    assert findings(
        """\
        phases:
          - &first
            id: a
            title: A
            duration: P30D
          - <<: *first
            id: b
            title: B
            duration: PXD
        """,
        head=BARE,
    ) == [
        "12:15: error: phase 'b', duration: 'PXD' is not an ISO 8601 duration; write for "
        "example P30D (30 days), P6W (6 weeks), P3M (3 months), P1Y6M (a year and a half)",
    ]


def test_a_long_chain_of_milestones_is_checked_not_crashed():
    """1500 milestones, each depending on and due after the one below it, listed from the top:
    the cycle search and the dry-run timeline recursed once per link (RecursionError, exit 1
    'unexpected error'). A file of 60 kB, far within the reader's bounds."""
    links = 1500
    lines = [
        f"      - {{id: m{i}, title: M, tracks: [A], depends_on: [m{i - 1}], "
        f"due: {{after: m{i - 1}, offset: P1D}}}}\n"
        for i in range(links - 1, 0, -1)
    ]
    body = "phases:\n  - id: a\n    title: A\n    duration: P10Y\n    milestones:\n"
    body += "".join(lines) + "      - {id: m0, title: M, tracks: [A], due: P1D}\n"
    assert findings(body) == []
    looped = body.replace("due: P1D}", "depends_on: [m1499]}")
    chain = " → ".join(f"m{i}" for i in [*range(links - 1, -1, -1), links - 1])
    column = lines[0].index("[m1498]") + 2
    assert [f for f in findings(looped) if "form a cycle" in f] == [
        f"10:{column}: error: depends_on form a cycle: {chain}"
    ]
