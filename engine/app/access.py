"""Who may do what: the rule table, as data, and the few rules beside it that need the facts of
one command (which approval, whose milestone).

Three things decide: the principal's **role** (``Role``), the **action** a face asks for
(``Action``, one per thing a face can do), and the principal's **relation** to the instance
(``Relation``): its organisation runs the programme, holds the instance's regie, is one of its
parties, or none of these. ``RULES`` maps every (role, action) to the relations on which it is
allowed; nothing else in the code decides. ``may`` applies it (plus the approval and the
milestone-owner rules), ``relation`` works the relation out, and ``scope`` turns it into what a
list query filters on in SQL. ``role_table_markdown`` is the table as docs/api.md shows it.

Actions that are not about an instance (reading the workflow definitions, the organisations,
administering principals and tokens) are allowed on every relation, ``NONE`` included: a face
asks them with the principal's relation to no instance in particular
(``relation(principal, regie_organisation=None, parties=())``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from engine.ports.directory import Organisation, Principal, Role

__all__ = [
    "INSTANCE_FREE",
    "PROGRAMME_WIDE",
    "RULES",
    "Action",
    "Organisation",
    "Principal",
    "Relation",
    "Role",
    "Scope",
    "may",
    "may_at_all",
    "relation",
    "role_table_markdown",
    "scope",
    "stake",
]


class Relation(StrEnum):
    """What a principal's organisation is to one instance."""

    PROGRAMME = "programme"
    """It runs the programme (the municipality whose database this is)."""
    REGIE = "regie"
    """It holds the instance's regie."""
    PARTY = "party"
    """It is one of the instance's named parties."""
    NONE = "none"


class Action(StrEnum):
    """One per thing a face can do."""

    LIST = "list"
    READ = "read"
    READ_LOG = "read_log"
    CREATE = "create"
    UPDATE = "update"
    MILESTONE = "milestone"
    APPROVE = "approve"
    ADVANCE = "advance"
    RETURN = "return"
    PAUSE = "pause"
    RESUME = "resume"
    HANDOVER = "handover"
    STOP = "stop"
    NOTE = "note"
    PARTIES = "parties"
    STATUS = "status"
    PREVIEW = "preview"
    OUTBOX = "outbox"
    OUTBOX_RETRY = "outbox_retry"
    VERIFY = "verify"
    FEED = "feed"
    REPORT = "report"
    DOSSIER = "dossier"
    CHECKPOINTS = "checkpoints"
    INBOX = "inbox"
    MIGRATE = "migrate"
    WORKFLOWS = "workflows"
    ORGANISATIONS = "organisations"
    ADMIN = "admin"
    WEBHOOKS = "webhooks"
    PRIVACY = "privacy"
    """A person's data: export and erasure (the programme office only)."""


INSTANCE_FREE = frozenset(
    {
        Action.WORKFLOWS,
        Action.ORGANISATIONS,
        Action.ADMIN,
        Action.CHECKPOINTS,
        Action.INBOX,
        Action.WEBHOOKS,
        Action.PRIVACY,
    }
)
"""Actions that are about no instance: allowed on every relation where the role has them,
but for those that reach across every instance (``PROGRAMME_WIDE``)."""

PROGRAMME_WIDE = frozenset({Action.ORGANISATIONS, Action.WEBHOOKS, Action.PRIVACY})
"""Actions about no one instance whose reach is every instance of the programme: the
organisations taking part, webhook subscriptions (they are sent the events of every
instance, and the ZGW mirror's deliveries) and a person's data in every wijk. The programme
office of the organisation that runs the programme alone may do them, never that of a
partner organisation (``Guard.require_programme``)."""

_SEEN = frozenset({Relation.PROGRAMME, Relation.REGIE, Relation.PARTY})
_ANYWHERE = frozenset(Relation)
_NOWHERE: frozenset[Relation] = frozenset()
_REGIE_OR_PARTY = frozenset({Relation.REGIE, Relation.PARTY})


def _grants(**by_action: frozenset[Relation]) -> dict[Action, frozenset[Relation]]:
    return {Action(name.lower()): relations for name, relations in by_action.items()}


_GRANTED: dict[Role, dict[Action, frozenset[Relation]]] = {
    # Everything in the instances of its municipality (and in those where its organisation
    # holds regie or is a party); the organisations, principals and tokens of its own one.
    Role.PROGRAMME_OFFICE: {
        action: (
            frozenset({Relation.PROGRAMME})
            if action in PROGRAMME_WIDE
            else _ANYWHERE
            if action in INSTANCE_FREE
            else _SEEN
        )
        for action in Action
    },
    # Regie holder or contributor: reads, the milestones it owns and notes where it takes part;
    # pause and resume only where it holds regie.
    Role.PARTNER: _grants(
        LIST=_REGIE_OR_PARTY,
        READ=_REGIE_OR_PARTY,
        READ_LOG=_REGIE_OR_PARTY,
        STATUS=_REGIE_OR_PARTY,
        PREVIEW=_REGIE_OR_PARTY,
        FEED=_REGIE_OR_PARTY,
        CHECKPOINTS=_ANYWHERE,
        MILESTONE=_REGIE_OR_PARTY,
        NOTE=_REGIE_OR_PARTY,
        PAUSE=frozenset({Relation.REGIE}),
        RESUME=frozenset({Relation.REGIE}),
        WORKFLOWS=_ANYWHERE,
        # Post facts from its own systems; what they map to is checked as its own command.
        INBOX=_ANYWHERE,
    ),
    # Its own approvals (checked in ``may``), in the instances it may see.
    Role.APPROVER: _grants(
        LIST=_SEEN,
        READ=_SEEN,
        STATUS=_SEEN,
        APPROVE=_SEEN,
        WORKFLOWS=_ANYWHERE,
        CHECKPOINTS=_ANYWHERE,
        INBOX=_ANYWHERE,
    ),
    # Reads everything it is granted, the whole log, audit verify, the reports looking back
    # (council report, timelines, charts) and dossiers included; never writes. Checkpoints
    # (size, root, time, signature: nothing about anyone) every role reads.
    Role.AUDITOR: _grants(
        LIST=_SEEN,
        READ=_SEEN,
        READ_LOG=_SEEN,
        STATUS=_SEEN,
        VERIFY=_SEEN,
        FEED=_SEEN,
        OUTBOX=_SEEN,
        REPORT=_SEEN,
        DOSSIER=_SEEN,
        WORKFLOWS=_ANYWHERE,
        CHECKPOINTS=_ANYWHERE,
    ),
    Role.VIEWER: _grants(
        LIST=_SEEN, READ=_SEEN, STATUS=_SEEN, WORKFLOWS=_ANYWHERE, CHECKPOINTS=_ANYWHERE
    ),
}

RULES: Mapping[tuple[Role, Action], frozenset[Relation]] = MappingProxyType(
    {(role, action): _GRANTED[role].get(action, _NOWHERE) for role in Role for action in Action}
)
"""THE table: for every role and action, the relations to an instance on which it is allowed
(empty: never). Nothing else decides."""


def _same_organisation(organisation: Organisation, named: str) -> bool:
    """Whether free text naming an organisation (an instance's regie organisation, as typed
    when it was created: "Gemeente Zwolle") names this one, by key or by name."""
    text = named.strip().casefold()
    return text in (organisation.key.casefold(), organisation.name.strip().casefold())


def relation(
    principal: Principal, *, regie_organisation: str | None, parties: Collection[str]
) -> Relation:
    """The principal's relation to an instance whose regie is held by ``regie_organisation``
    (a key or free text) and whose parties are the organisations ``parties`` (keys)."""
    return stake(principal.organisation, regie_organisation=regie_organisation, parties=parties)


def stake(
    organisation: Organisation, *, regie_organisation: str | None, parties: Collection[str]
) -> Relation:
    """An organisation's relation to an instance (``relation`` for its principals): NONE when
    it is no party to it at all, the one kind of organisation that may give an independent
    approval."""
    if organisation.runs_programme:
        return Relation.PROGRAMME
    if regie_organisation is not None and _same_organisation(organisation, regie_organisation):
        return Relation.REGIE
    if organisation.key in parties:
        return Relation.PARTY
    return Relation.NONE


def may(
    principal: Principal,
    action: Action,
    relation: Relation,
    *,
    approval: str | None = None,
    milestone_owner: str | None = None,
    party_roles: Collection[str] = (),
    independent: bool = False,
) -> bool:
    """Whether ``principal`` may do ``action`` to an instance it has ``relation`` to.

    Beside the table: an approver approves only the approvals it holds (``approval``; without
    one, whether it holds any), the programme office any. A partner records a milestone only
    one it owns: ``milestone_owner`` is ``regie`` and it holds the regie, or the owner is one
    of ``party_roles`` (the party roles its organisation holds on this instance) or its
    organisation's kind. A disabled principal may do nothing.

    An ``independent`` approval (the workflow marks it so) turns the table around: only an
    approver holding it whose organisation has no relation to the instance (``NONE``: not the
    programme's, not the regie holder, not a party) may give it; nobody with a stake may.
    """
    if action is Action.APPROVE and independent:
        return (
            not principal.disabled
            and relation is Relation.NONE
            and principal.role is Role.APPROVER
            and approval in principal.approvals
        )
    if principal.disabled or relation not in RULES[(principal.role, action)]:
        return False
    if action is Action.APPROVE and principal.role is not Role.PROGRAMME_OFFICE:
        if approval is None:
            return bool(principal.approvals)
        return approval in principal.approvals
    if action is Action.MILESTONE and principal.role is Role.PARTNER:
        if milestone_owner is None:
            return False
        if milestone_owner == "regie":
            return relation is Relation.REGIE
        return milestone_owner in party_roles or milestone_owner == principal.organisation.kind
    return True


def may_at_all(principal: Principal, action: Action) -> bool:
    """Whether ``action`` is allowed to ``principal`` on any relation (a list endpoint: it may
    ask, and ``scope`` says what it sees)."""
    return not principal.disabled and bool(RULES[(principal.role, action)])


@dataclass(frozen=True, slots=True)
class Scope:
    """Which instances a list shows: all of them (``everything``), or those whose regie
    organisation is one of ``names`` (lower case: match without regard to case) or of which
    ``organisation`` (a key) is a party. Neither: none."""

    everything: bool
    organisation: str | None
    names: tuple[str, ...]

    @property
    def nothing(self) -> bool:
        return not self.everything and self.organisation is None and not self.names


def scope(principal: Principal, action: Action = Action.LIST) -> Scope:
    """What ``principal`` sees of the instances for ``action``, for filtering lists in SQL."""
    if not may_at_all(principal, action):
        return Scope(False, None, ())
    if may(principal, action, relation(principal, regie_organisation=None, parties=())):
        return Scope(True, None, ())
    organisation = principal.organisation
    allowed = RULES[(principal.role, action)]
    names: tuple[str, ...] = ()
    if Relation.REGIE in allowed:
        names = tuple(dict.fromkeys((organisation.key.lower(), organisation.name.strip().lower())))
    party = organisation.key if Relation.PARTY in allowed else None
    return Scope(False, party, names)


_ROLE_HEADINGS = {
    Role.PROGRAMME_OFFICE: "programme office",
    Role.PARTNER: "partner",
    Role.APPROVER: "approver",
    Role.AUDITOR: "auditor",
    Role.VIEWER: "viewer",
}


def _cell(relations: frozenset[Relation]) -> str:
    if not relations:
        return "–"
    if relations == _ANYWHERE:
        return "yes"
    return ", ".join(r.value for r in Relation if r in relations)


def role_table_markdown() -> str:
    """The rule table as Markdown: one row per action, one column per role, each cell the
    relations to the instance on which the role may do it."""
    roles = list(Role)
    lines = [
        "| action | " + " | ".join(_ROLE_HEADINGS[r] for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for action in Action:
        cells = " | ".join(_cell(RULES[(role, action)]) for role in roles)
        lines.append(f"| `{action.value}` | {cells} |")
    lines += [
        "",
        "A cell names the relations to the instance on which the role may do the action: "
        "`programme` (its organisation runs the programme), `regie` (it holds the instance's "
        "regie), `party` (it is one of the instance's parties); `yes`: not about an instance; "
        "`–`: never. An approver approves only the approvals it holds; a partner records only "
        "the milestones it owns (owner `regie` where it holds regie, a party role its "
        "organisation holds on the instance, or its organisation's kind). An approval the "
        "workflow marks `independent` is given only by an approver holding it whose "
        "organisation has no relation to the instance (`none`), never by anyone with a "
        "stake in it. A disabled principal may do nothing.",
    ]
    return "\n".join(lines) + "\n"
