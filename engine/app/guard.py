"""The rule table applied: what one principal may see and do, for every face that has principals.

``Guard(service, principal)`` answers before the service is asked to act:

- ``see(key)``: the instance as ``instance show`` has it, when the principal may see it; an
  instance it may not see is NotFound, worded exactly as one that does not exist (its existence
  is not revealed, and no other keys are offered as "did you mean");
- ``require(key, action, ...)``: the same, and then Forbidden when it may see the instance but
  not do this to it (record a milestone it does not own, approve an approval it does not hold);
- ``require_programme(action)``: for what is not about one instance (the outbox, the
  directory): allowed by the principal's relation to the programme;
- ``scope(action)``: what lists show it, as a filter the store applies in SQL;
- ``independent_approvals(view)`` and ``awaiting_independent()``: for an approver whose
  organisation has no stake in an instance, the independent approvals its gate asks of it,
  and the instances that ask them (all it may know of an instance it may not see);
- ``acting(action, ...)``: the same check again inside each command's own transaction, on the
  row the command is decided on (``engine.app.acting``).

The decisions are ``engine.app.access``'s (its ``RULES`` table); this module only finds the
facts the table is asked about: the principal's relation to the instance, the owner of a
milestone, the party roles its organisation holds there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.app.access import Action, Principal, Relation, Role, Scope, may, relation, scope
from engine.app.acting import acting
from engine.errors import Forbidden, NotFound
from engine.runtime.commands import CompiledWorkflow
from engine.runtime.instance import Instance

if TYPE_CHECKING:
    from engine.app.reports import ChildView, InstanceView
    from engine.app.service import Service

__all__ = ["Guard"]


class Guard:
    """One principal's view of the service."""

    def __init__(self, service: Service, principal: Principal) -> None:
        self.service = service
        self.principal = principal

    def _check(
        self,
        key: str,
        regie_organisation: str | None,
        parties: tuple[tuple[str, str], ...],
        action: Action,
        *,
        approval: str | None = None,
        owner: str | None = None,
        independent: bool = False,
    ) -> None:
        """NotFound when the principal may not see the instance, Forbidden when it may see it
        but not do ``action`` to it (``owner``: of the milestone the action is about). An
        ``independent`` approval is given by an approver that holds it and has no stake in the
        instance, without seeing it otherwise."""
        found = relation(
            self.principal,
            regie_organisation=regie_organisation,
            parties=[organisation for organisation, _ in parties],
        )
        if independent and may(self.principal, action, found, approval=approval, independent=True):
            return
        if not may(self.principal, Action.READ, found):
            raise NotFound("instance", key)
        org = self.principal.organisation.key
        if action is not Action.READ and not may(
            self.principal,
            action,
            found,
            approval=approval,
            milestone_owner=owner,
            party_roles=[party for organisation, party in parties if organisation == org],
            independent=independent,
        ):
            raise Forbidden(self.principal.actor, action.value, key)

    def see(self, key: str, action: Action = Action.READ) -> InstanceView:
        """The instance, if the principal may ``action`` it (READ, READ_LOG); else NotFound."""
        try:
            view = self.service.show(key)
        except NotFound:
            raise NotFound("instance", key) from None
        self._check(key, view.regie.organisation, view.parties, action)
        return view

    def see_remembered(self, key: str) -> InstanceView | None:
        """As ``see`` (READ), when the view is the one made last time (``Service.
        remembered_view``); None when it would have to be made, or there is no such instance
        (``see`` says which)."""
        view = self.service.remembered_view(key)
        if view is not None:
            self._check(key, view.regie.organisation, view.parties, Action.READ)
        return view

    def require(
        self,
        key: str,
        action: Action,
        *,
        approval: str | None = None,
        milestone: str | None = None,
    ) -> InstanceView:
        """The instance, if the principal may do ``action`` to it (Forbidden or NotFound)."""
        view = self.see(key)
        owner = None
        if milestone is not None:
            owner = next((m.owner for m in view.milestones if m.id == milestone), None)
            if owner is None:
                return view  # an unknown milestone: the engine says so, with the known ones
        self._check(
            key, view.regie.organisation, view.parties, action, approval=approval, owner=owner
        )
        return view

    @contextmanager
    def acting(
        self,
        action: Action,
        *,
        approval: str | None = None,
        milestone: str | None = None,
    ) -> Iterator[None]:
        """Check ``action`` again inside each command run in the block, on the instance as its
        transaction reads it (``engine.app.acting``)."""

        def rule(workflow: CompiledWorkflow, instance: Instance) -> None:
            known = workflow.milestones.get(milestone) if milestone is not None else None
            if milestone is not None and known is None:
                # An unknown milestone: only whether it may see the instance; then the command
                # says which milestones there are.
                self._check(
                    instance.key, instance.regie.organisation, instance.parties, Action.READ
                )
                return
            self._check(
                instance.key,
                instance.regie.organisation,
                instance.parties,
                action,
                approval=approval,
                owner=known.owner if known is not None else None,
                independent=(
                    action is Action.APPROVE
                    and approval is not None
                    and workflow.definition.independent(approval)
                ),
            )

        with acting(rule):
            yield

    def offers(
        self,
        view: InstanceView,
        action: Action,
        *,
        approval: str | None = None,
        milestone: str | None = None,
        independent: bool = False,
    ) -> bool:
        """Whether a face should offer ``action`` on this instance (the same check as
        ``require``, answered as a yes or no; the command still checks it again).
        ``independent``: the approval is one the workflow marks so."""
        owner = None
        if milestone is not None:
            owner = next((m.owner for m in view.milestones if m.id == milestone), None)
        try:
            self._check(
                view.key,
                view.regie.organisation,
                view.parties,
                action,
                approval=approval,
                owner=owner,
                independent=independent,
            )
        except (NotFound, Forbidden):
            return False
        return True

    def independent_approvals(self, view: InstanceView) -> list[str]:
        """The approvals the current gate of ``view`` asks for that the workflow marks
        independent and this principal may give (``may`` with ``independent``: an approver
        holding it, whose organisation has no stake in the instance); empty for everyone
        else and for a finished instance."""
        if self.principal.disabled or view.state in ("completed", "stopped"):
            return []
        stored = next(
            (
                w
                for w in self.service.workflow_versions(view.workflow_key)
                if w.version == view.workflow_version
            ),
            None,
        )
        if stored is None:
            return []
        definition = self.service.compiled(stored).definition
        phase = next((p for p in definition.phases if p.id == view.phase), None)
        if phase is None:
            return []
        found = relation(
            self.principal,
            regie_organisation=view.regie.organisation,
            parties=[organisation for organisation, _ in view.parties],
        )
        return [
            approval
            for approval in phase.gate.approvals
            if definition.independent(approval)
            and may(self.principal, Action.APPROVE, found, approval=approval, independent=True)
        ]

    def awaiting_independent(self, limit: int = 200) -> list[tuple[InstanceView, list[str]]]:
        """The instances (up to ``limit``, by key) whose current gate asks this principal for
        an independent approval it may give, each with those approvals. Only the phases that
        ask for one it holds are read, then each instance is checked as
        ``independent_approvals`` does."""
        from engine.app.listing import MAX_LIMIT
        from engine.ports import InstanceQuery

        if self.principal.role is not Role.APPROVER or self.principal.disabled:
            return []
        held = set(self.principal.approvals)
        phases: dict[tuple[str, str], set[int]] = {}
        for stored in self.service.workflow_versions():
            definition = self.service.compiled(stored).definition
            for phase in definition.phases:
                if any(a in held and definition.independent(a) for a in phase.gate.approvals):
                    phases.setdefault((stored.key, phase.id), set()).add(stored.version)
        # Every instance in those phases is read (the store's scope cannot say "no stake"):
        # each is then shown only if ``independent_approvals`` allows it.
        everything = Scope(True, None, ())
        # Pages come by key, so each phase is read only until it gave ``limit``: the first
        # ``limit`` of all of them by key are among those.
        found: list[tuple[InstanceView, list[str]]] = []
        for (workflow, phase_id), versions in sorted(phases.items()):
            after, here = None, 0
            while here < limit:
                page = self.service.instances(
                    InstanceQuery(workflow=workflow, phase=phase_id, after=after, limit=MAX_LIMIT),
                    everything,
                )
                for summary in page.items:
                    if summary.workflow_version not in versions:
                        continue
                    view = self.service.show(summary.key)
                    approvals = self.independent_approvals(view)
                    if approvals:
                        found.append((view, approvals))
                        here += 1
                        if here == limit:
                            break
                if page.next is None:
                    break
                after = page.next
        found.sort(key=lambda item: item[0].key)
        return found[:limit]

    def require_programme(self, action: Action) -> None:
        """Allow an action on the programme as a whole by the principal's relation to the
        programme: ``PROGRAMME`` when its organisation runs it, ``NONE`` otherwise, so that the
        actions that reach every instance (``access.PROGRAMME_WIDE``) are left to the programme
        office of that organisation (Forbidden otherwise)."""
        if not self.may_programme(action):
            raise Forbidden(self.principal.actor, action.value, None)

    def may_programme(self, action: Action) -> bool:
        """Whether ``require_programme(action)`` allows it (for a page that offers it or not)."""
        where = Relation.PROGRAMME if self.principal.organisation.runs_programme else Relation.NONE
        return may(self.principal, action, where)

    def allow(self, action: Action) -> None:
        """Allow an action that is not about one instance when the principal may do it
        anywhere (reading the workflow definitions, say); Forbidden otherwise."""
        if not any(may(self.principal, action, r) for r in Relation):
            raise Forbidden(self.principal.actor, action.value, None)

    def kin(self, view: InstanceView) -> tuple[str | None, tuple[ChildView, ...]]:
        """The wijk and the deelprojecten of ``view`` this principal may see: a wijk or
        deelproject it may not see is not named at all, as on its own page (404). The
        deelprojecten are found by their parent in the principal's scope, in SQL."""
        parent = view.parent if view.parent is not None and self.sees(view.parent) else None
        if not view.children:
            return parent, ()
        keys = self.seen_children(view.key)
        if keys is None:
            return parent, tuple(view.children)
        return parent, tuple(c for c in view.children if c.key in keys)

    def sees(self, key: str) -> bool:
        """Whether the principal may see instance ``key`` (``see`` answered as a yes or no)."""
        try:
            self.see(key)
        except NotFound:
            return False
        return True

    def seen_children(self, key: str) -> frozenset[str] | None:
        """The keys of the deelprojecten of instance ``key`` this principal may see, found by
        their parent in its scope, in SQL; None when it sees every instance (known without
        reading). What ``kin`` names, for answers made without a view (a command's)."""
        from engine.app.listing import MAX_LIMIT
        from engine.ports import InstanceQuery

        try:
            seen = self.scope(Action.LIST)
        except Forbidden:
            return frozenset()
        if seen.everything:
            return None
        keys: set[str] = set()
        after = None
        while True:
            page = self.service.instances(
                InstanceQuery(parent=key, after=after, limit=MAX_LIMIT), seen
            )
            keys.update(s.key for s in page.items)
            if page.next is None:
                break
            after = page.next
        return frozenset(keys)

    def sees_all_kin(self, view: InstanceView) -> bool:
        """Whether ``kin`` is sure to give the whole wijk and every deelproject of ``view``,
        known without reading anything (no kin, or a principal that sees every instance)."""
        if view.parent is None and not view.children:
            return True
        try:
            return self.scope(Action.LIST).everything
        except Forbidden:
            return False

    def scope(self, action: Action = Action.LIST) -> Scope:
        """The instances lists show this principal (Forbidden when it may list none)."""
        if not any(may(self.principal, action, r) for r in Relation if r is not Relation.NONE):
            raise Forbidden(self.principal.actor, action.value, None)
        return scope(self.principal, action)
