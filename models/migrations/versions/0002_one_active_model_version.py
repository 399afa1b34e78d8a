"""one active model version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:49:38.585826
"""

from alembic import op
import sqlalchemy as sa
import models.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index('uq_model_versions_one_active', ['active'], unique=True, sqlite_where=sa.text('active = 1'), postgresql_where=sa.text('active'))



def downgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_model_versions_one_active', sqlite_where=sa.text('active = 1'), postgresql_where=sa.text('active'))

