"""The rule table (engine.app.access): who may do what, to which instance, as a matrix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.app.access import (
    INSTANCE_FREE,
    PROGRAMME_WIDE,
    RULES,
    Action,
    Organisation,
    Principal,
    Relation,
    Role,
    Scope,
    may,
    may_at_all,
    relation,
    role_table_markdown,
    scope,
)

ZWOLLE = Organisation(
    id=1,
    key="gemeente-zwolle",
    name="Gemeente Zwolle",
    kind="gemeente",
    oin="00000001001234567000",
    rsin=None,
    kvk=None,
    runs_programme=True,
)
DELTA = Organisation(
    id=2,
    key="deltawonen",
    name="deltaWonen",
    kind="woningcorporatie",
    oin=None,
    rsin=None,
    kvk="05040332",
    runs_programme=False,
)
ENEXIS = replace(DELTA, id=3, key="enexis", name="Enexis", kind="netbeheerder", kvk=None)


def principal(
    role: Role,
    organisation: Organisation = DELTA,
    *,
    approvals: tuple[str, ...] = (),
    disabled: bool = False,
) -> Principal:
    return Principal(
        id=7,
        name="p.jansen",
        kind="person",
        organisation=organisation,
        role=role,
        approvals=approvals,
        disabled=disabled,
    )


WRITES = {
    Action.CREATE,
    Action.UPDATE,
    Action.MILESTONE,
    Action.APPROVE,
    Action.ADVANCE,
    Action.RETURN,
    Action.PAUSE,
    Action.RESUME,
    Action.HANDOVER,
    Action.STOP,
    Action.NOTE,
    Action.PARTIES,
    Action.OUTBOX_RETRY,
    Action.ADMIN,
    Action.WEBHOOKS,
}

# What each role may do where it is a party (the partner's regie-only rights left out):
EXPECTED_AS_PARTY = {
    Role.PROGRAMME_OFFICE: set(Action) - INSTANCE_FREE,
    Role.PARTNER: {
        Action.LIST,
        Action.READ,
        Action.READ_LOG,
        Action.STATUS,
        Action.PREVIEW,
        Action.FEED,
        Action.MILESTONE,
        Action.NOTE,
    },
    Role.APPROVER: {Action.LIST, Action.READ, Action.STATUS, Action.APPROVE},
    Role.AUDITOR: {
        Action.LIST,
        Action.READ,
        Action.READ_LOG,
        Action.STATUS,
        Action.VERIFY,
        Action.FEED,
        Action.OUTBOX,
        Action.REPORT,
        Action.DOSSIER,
    },
    Role.VIEWER: {Action.LIST, Action.READ, Action.STATUS},
}


def test_the_table_names_every_role_and_action() -> None:
    assert set(RULES) == {(r, a) for r in Role for a in Action}


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("action", sorted(set(Action) - INSTANCE_FREE), ids=str)
def test_nobody_acts_on_an_instance_it_has_no_relation_to(role: Role, action: Action) -> None:
    assert Relation.NONE not in RULES[(role, action)]


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_role_may_do_what_its_description_says_where_it_is_a_party(role: Role) -> None:
    allowed = {a for a in Action if a not in INSTANCE_FREE and Relation.PARTY in RULES[(role, a)]}
    assert allowed == EXPECTED_AS_PARTY[role]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.VIEWER, Role.APPROVER], ids=str)
def test_readers_never_write_except_the_approvers_approval(role: Role) -> None:
    writes = {a for a in WRITES if RULES[(role, a)]}
    assert writes == ({Action.APPROVE} if role is Role.APPROVER else set())


def test_pause_and_resume_only_for_the_partner_with_regie() -> None:
    partner = principal(Role.PARTNER)
    for action in (Action.PAUSE, Action.RESUME):
        assert may(partner, action, Relation.REGIE)
        assert not may(partner, action, Relation.PARTY)
        assert not may(partner, action, Relation.NONE)


def test_every_role_reads_the_workflows_and_only_the_office_administers() -> None:
    for role in Role:
        assert may(principal(role), Action.WORKFLOWS, Relation.NONE)
        assert may(principal(role), Action.ADMIN, Relation.NONE) is (role is Role.PROGRAMME_OFFICE)


@pytest.mark.parametrize(
    ("regie", "parties", "organisation", "expected"),
    [
        ("Gemeente Zwolle", (), ZWOLLE, Relation.PROGRAMME),
        ("deltaWonen", (), ZWOLLE, Relation.PROGRAMME),
        ("deltaWonen", (), DELTA, Relation.REGIE),
        ("  DELTAWONEN ", (), DELTA, Relation.REGIE),
        ("deltawonen", (), DELTA, Relation.REGIE),
        ("Gemeente Zwolle", ("deltawonen",), DELTA, Relation.PARTY),
        ("Gemeente Zwolle", ("enexis",), DELTA, Relation.NONE),
        (None, (), DELTA, Relation.NONE),
        ("delta", (), DELTA, Relation.NONE),
    ],
)
def test_relation_by_regie_name_or_key_and_parties(
    regie: str | None, parties: tuple[str, ...], organisation: Organisation, expected: Relation
) -> None:
    p = principal(Role.PARTNER, organisation)
    assert relation(p, regie_organisation=regie, parties=parties) is expected


def test_an_approver_approves_only_its_own_approvals() -> None:
    approver = principal(Role.APPROVER, approvals=("college",))
    assert may(approver, Action.APPROVE, Relation.PARTY, approval="college")
    assert not may(approver, Action.APPROVE, Relation.PARTY, approval="gemeenteraad")
    assert not may(approver, Action.APPROVE, Relation.NONE, approval="college")
    assert not may(principal(Role.APPROVER), Action.APPROVE, Relation.PARTY)
    office = principal(Role.PROGRAMME_OFFICE, ZWOLLE)
    assert may(office, Action.APPROVE, Relation.PROGRAMME, approval="gemeenteraad")


@pytest.mark.parametrize(
    ("owner", "rel", "party_roles", "expected"),
    [
        ("regie", Relation.REGIE, (), True),
        ("regie", Relation.PARTY, (), False),
        ("netbeheerder", Relation.PARTY, ("netbeheerder",), True),
        ("netbeheerder", Relation.PARTY, ("projectgroep",), False),
        ("woningcorporatie", Relation.PARTY, (), True),  # its organisation's kind
        ("gemeente", Relation.REGIE, (), False),
        ("netbeheerder", Relation.NONE, ("netbeheerder",), False),
        (None, Relation.REGIE, (), False),
    ],
)
def test_a_partner_records_only_the_milestones_it_owns(
    owner: str | None, rel: Relation, party_roles: tuple[str, ...], expected: bool
) -> None:
    partner = principal(Role.PARTNER)
    assert (
        may(partner, Action.MILESTONE, rel, milestone_owner=owner, party_roles=party_roles)
        is expected
    )


def test_the_office_records_any_milestone() -> None:
    office = principal(Role.PROGRAMME_OFFICE, ZWOLLE)
    assert may(office, Action.MILESTONE, Relation.PROGRAMME, milestone_owner="netbeheerder")


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_a_disabled_principal_may_do_nothing(action: Action) -> None:
    disabled = principal(Role.PROGRAMME_OFFICE, ZWOLLE, disabled=True)
    assert not any(may(disabled, action, rel) for rel in Relation)
    assert not may_at_all(disabled, action)
    assert scope(disabled, action).nothing


def test_scope_of_the_programme_is_everything() -> None:
    for role in (Role.PROGRAMME_OFFICE, Role.AUDITOR, Role.VIEWER, Role.APPROVER):
        assert scope(principal(role, ZWOLLE)) == Scope(True, None, ())


def test_scope_of_a_partner_is_its_regie_and_its_parties() -> None:
    assert scope(principal(Role.PARTNER)) == Scope(False, "deltawonen", ("deltawonen",))
    enexis = scope(principal(Role.PARTNER, ENEXIS))
    assert enexis == Scope(False, "enexis", ("enexis",))
    # pause: only where it holds regie
    assert scope(principal(Role.PARTNER), Action.PAUSE) == Scope(False, None, ("deltawonen",))


def test_scope_of_an_action_a_role_never_has_is_nothing() -> None:
    assert scope(principal(Role.VIEWER), Action.FEED).nothing
    assert scope(principal(Role.PARTNER, ZWOLLE), Action.LIST) == Scope(
        False, "gemeente-zwolle", ("gemeente-zwolle", "gemeente zwolle")
    )


def test_the_markdown_table_says_what_the_rules_say() -> None:
    table = role_table_markdown()
    rows = {
        line.split("|")[1].strip().strip("`"): [c.strip() for c in line.split("|")[2:-1]]
        for line in table.splitlines()
        if line.startswith("| `")
    }
    assert set(rows) == {a.value for a in Action}
    for column, role in enumerate(Role):
        for action in Action:
            cell = rows[action.value][column]
            relations = RULES[(role, action)]
            if not relations:
                assert cell == "–"
            elif cell != "yes":
                assert {Relation(part.strip()) for part in cell.split(",")} == relations
            else:
                assert relations == frozenset(Relation)


def test_an_independent_approval_only_from_an_approver_without_a_stake() -> None:
    approver = principal(Role.APPROVER, approvals=("toets",))
    held = "toets"
    for where in (Relation.PROGRAMME, Relation.REGIE, Relation.PARTY):
        assert not may(approver, Action.APPROVE, where, approval=held, independent=True)
        assert not may(principal(Role.PROGRAMME_OFFICE), Action.APPROVE, where, independent=True)
    assert may(approver, Action.APPROVE, Relation.NONE, approval=held, independent=True)
    assert not may(approver, Action.APPROVE, Relation.NONE, approval="other", independent=True)
    assert not may(approver, Action.APPROVE, Relation.NONE, approval=held)


@pytest.mark.parametrize("action", sorted(PROGRAMME_WIDE), ids=str)
def test_what_reaches_every_instance_is_for_the_programme_s_own_office(action: Action) -> None:
    """Webhooks (sent every instance's events), a person's data in every wijk and the
    organisations: the programme office of a partner organisation (a woningcorporatie's own)
    may not, though it does everything else that is about no one instance."""
    office = principal(Role.PROGRAMME_OFFICE)
    assert may(office, action, Relation.PROGRAMME)
    for elsewhere in (Relation.REGIE, Relation.PARTY, Relation.NONE):
        assert not may(office, action, elsewhere)
    for other in INSTANCE_FREE - PROGRAMME_WIDE:
        assert may(office, other, Relation.NONE)
    for role in set(Role) - {Role.PROGRAMME_OFFICE}:
        assert not RULES[(role, action)]
