"""client records per group: unique (chat_id, key); merged clients split by group

Until now a client was one row per normalized (name, company) across every group, moved to whichever
group reported it last, with every group's updates on its page (issue 11 item 3). Each group now owns
its record. Upgrading splits every merged client: the record stays with its current group and each
other group that reported the client gets its own record, built from that group's updates only, with
those updates and deals moved to it. What a record knew from another group's report is rebuilt from
its own group's updates.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

from storage.models import UtcDateTime


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

clients = sa.table(
    'clients',
    sa.column('id', sa.BigInteger), sa.column('key', sa.String), sa.column('name', sa.String),
    sa.column('company', sa.String), sa.column('contact_masked', sa.String), sa.column('grade', sa.String),
    sa.column('owner', sa.String), sa.column('chat_id', sa.String), sa.column('need', sa.Text),
    sa.column('next_action', sa.Text), sa.column('next_action_due', sa.Date),
    sa.column('last_update_at', UtcDateTime(timezone=True)), sa.column('created_at', UtcDateTime(timezone=True)),
)
updates = sa.table(
    'client_updates',
    sa.column('id', sa.BigInteger), sa.column('client_id', sa.BigInteger), sa.column('chat_id', sa.String),
    sa.column('sender', sa.String), sa.column('sent_at', UtcDateTime(timezone=True)),
    sa.column('client_name', sa.String), sa.column('company', sa.String), sa.column('contact', sa.String),
    sa.column('need', sa.Text), sa.column('next_action', sa.Text), sa.column('next_action_due', sa.Date),
)
deals = sa.table('deals', sa.column('id', sa.BigInteger), sa.column('client_id', sa.BigInteger),
                 sa.column('chat_id', sa.String))


def _latest(rows, field):
    return next((getattr(r, field) for r in rows if getattr(r, field)), None)


def _split_merged_clients(conn) -> None:
    for client in conn.execute(sa.select(clients).order_by(clients.c.id)).all():
        rows = conn.execute(
            sa.select(updates).where(updates.c.client_id == client.id)
            .order_by(updates.c.sent_at.desc(), updates.c.id.desc())
        ).all()
        by_group: dict[str, list] = {}
        for row in rows:
            by_group.setdefault(row.chat_id, []).append(row)
        home = client.chat_id or (rows[0].chat_id if rows else '')
        own = by_group.get(home, [])
        # The home record keeps its grade and next step (a manager of that group may have edited them);
        # what it learned from other groups' reports is rebuilt from its own group's updates.
        conn.execute(clients.update().where(clients.c.id == client.id).values(
            chat_id=home,
            contact_masked=_latest(own, 'contact') if own else client.contact_masked,
            need=_latest(own, 'need') if own else client.need,
        ))
        for chat_id, group_rows in by_group.items():
            if chat_id == home:
                continue
            newest = group_rows[0]
            new_id = conn.execute(clients.insert().values(
                key=client.key, name=newest.client_name or client.name, company=newest.company or client.company,
                contact_masked=_latest(group_rows, 'contact'), grade=client.grade, owner=newest.sender,
                chat_id=chat_id, need=_latest(group_rows, 'need'), next_action=newest.next_action,
                next_action_due=newest.next_action_due, last_update_at=newest.sent_at,
                created_at=client.created_at,
            ).returning(clients.c.id)).scalar_one()
            conn.execute(updates.update().where(updates.c.client_id == client.id, updates.c.chat_id == chat_id)
                         .values(client_id=new_id))
            conn.execute(deals.update().where(deals.c.client_id == client.id, deals.c.chat_id == chat_id)
                         .values(client_id=new_id))


def _links(conn) -> tuple[list[dict], list[dict]]:
    return (
        [dict(row_id=i, c=c) for i, c in conn.execute(sa.select(updates.c.id, updates.c.client_id)
                                                  .where(updates.c.client_id.is_not(None)))],
        [dict(row_id=i, c=c) for i, c in conn.execute(sa.select(deals.c.id, deals.c.client_id)
                                                  .where(deals.c.client_id.is_not(None)))],
    )


def _restore(conn, links: tuple[list[dict], list[dict]]) -> None:
    # SQLite rebuilds the table to change a constraint, and dropping the old one with foreign keys on
    # runs ON DELETE SET NULL on every update and deal: put the links back (a no-op on PostgreSQL).
    for table, rows in zip((updates, deals), links, strict=True):
        if rows:
            conn.execute(table.update().where(table.c.id == sa.bindparam('row_id')).values(client_id=sa.bindparam('c')),
                         rows)


def upgrade() -> None:
    conn = op.get_bind()
    newest_chat = (sa.select(updates.c.chat_id).where(updates.c.client_id == clients.c.id)
                   .order_by(updates.c.sent_at.desc(), updates.c.id.desc()).limit(1).scalar_subquery())
    conn.execute(clients.update().where(clients.c.chat_id.is_(None))
                 .values(chat_id=sa.func.coalesce(newest_chat, '')))
    links = _links(conn)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint('uq_clients_key', type_='unique')
        batch_op.alter_column('chat_id', existing_type=sa.String(length=128), nullable=False)
        # Keys are still unique on their own here, so (chat_id, key) is too.
        batch_op.create_unique_constraint('uq_clients_chat_id_key', ['chat_id', 'key'])
    _restore(conn, links)
    _split_merged_clients(conn)


def downgrade() -> None:
    # One record per (name, company) again: the per-group duplicates of a client are dropped (their
    # updates and deals keep their rows, unlinked), the oldest record of each key is kept.
    conn = op.get_bind()
    keep = sa.select(sa.func.min(clients.c.id)).group_by(clients.c.key).scalar_subquery()
    doomed = sa.select(clients.c.id).where(clients.c.id.not_in(keep))
    conn.execute(updates.update().where(updates.c.client_id.in_(doomed)).values(client_id=None))
    conn.execute(deals.update().where(deals.c.client_id.in_(doomed)).values(client_id=None))
    conn.execute(clients.delete().where(clients.c.id.not_in(keep)))
    links = _links(conn)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_constraint('uq_clients_chat_id_key', type_='unique')
        batch_op.alter_column('chat_id', existing_type=sa.String(length=128), nullable=True)
        batch_op.create_unique_constraint('uq_clients_key', ['key'])
    _restore(conn, links)
