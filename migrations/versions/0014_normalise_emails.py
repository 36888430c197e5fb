"""Accounts made before email normalisation: store their email the way login now looks it up.

Login and signup normalise the address (NFKC, lower case, IDNA domain) before the lookup, so
an account stored as "Ana@Example.COM" by an earlier version could no longer sign in. Each
such row is rewritten to its normal form unless another account already holds that form;
those pairs are left as they are and named in the log, for an operator to settle.

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-28
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from engine.accounts.sessions import normalise_email
from engine.errors import ValidationFailed

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
users = sa.table("users", sa.column("id"), sa.column("email"))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.email)).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        try:
            normal = normalise_email(email)
        except ValidationFailed:
            log.warning("account %s: stored email is not a valid address; left as it is", user_id)
            continue
        if normal == email:
            continue
        if normal in taken:
            log.warning("account %s: its email in normal form belongs to another account; "
                        "left as it is", user_id)
            continue
        bind.execute(users.update().where(users.c.id == user_id).values(email=normal))
        taken.discard(email)
        taken.add(normal)


def downgrade() -> None:
    # The earlier spellings are not kept; normalised addresses work with older code too.
    pass
