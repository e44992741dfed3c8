"""Whose data each personal field is, worked out again: an address beyond ASCII
(``jörg@müller.nl``, which the contacts take) is now found in free text and contact fields,
where the rule of 0013 found none (or only the end of one), so a person's data export and
erasure missed it. No table changes; the rows of ``personal_subjects`` that differ from what
the values say are replaced. Nothing hashed changes. The downgrade keeps them: the old code
finds more with them, never another person's data.

Revision ID: 0017_personal_subjects
Revises: 0016_session_credential
Create Date: 2026-12-07 15:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017_personal_subjects"
down_revision: str | None = "0016_session_credential"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from engine.persistence.personal import reindex_subjects

    changed = reindex_subjects(op.get_bind())
    if changed:
        print(f"0017_personal_subjects: {changed} event(s) found to hold personal data anew")


def downgrade() -> None:
    pass
