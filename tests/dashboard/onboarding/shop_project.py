"""An Alembic project unlike the demo's, written into a folder for the connect tests.

Its own table names, a reserved word for one (`order`), camelCase columns, revision ids that
are not numbers, and an env.py that reads its URL, through the project's settings module at
import time, from SHOP_DB_DSN (not a name the console would guess).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

URL_VARIABLE = "SHOP_DB_DSN"
REVISIONS = ("b7e4c1d2a9f0", "5c2a9e7f1b3d", "e9d1f4a7c3b2")

FILES = {
    "alembic.ini": """
        [alembic]
        script_location = migrations
        prepend_sys_path = .
        path_separator = os
    """,
    "shop/__init__.py": "",
    "shop/settings.py": '''
        """The shop's settings, read once from the environment."""
        import os

        DSN = os.environ["SHOP_DB_DSN"]
    ''',
    "shop/models.py": '''
        """The shop's tables."""
        from datetime import datetime

        import sqlalchemy as sa
        from sqlmodel import Field, SQLModel


        class Customer(SQLModel, table=True):
            __tablename__ = "customer"
            id: int | None = Field(default=None, primary_key=True)
            fullName: str = Field(sa_type=sa.Text, nullable=False)
            emailAddress: str = Field(sa_type=sa.Text, nullable=False, unique=True)


        class Order(SQLModel, table=True):
            __tablename__ = "order"
            id: int | None = Field(default=None, primary_key=True)
            customerId: int = Field(
                sa_column=sa.Column(
                    sa.Integer,
                    sa.ForeignKey("customer.id", ondelete="CASCADE"),
                    nullable=False,
                    index=True,
                )
            )
            placedAt: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
            totalCents: int = Field(nullable=False)
    ''',
    "migrations/script.py.mako": "",
    "migrations/env.py": '''
        """The shop's Alembic environment: URL from the shop's settings module."""
        from alembic import context
        from sqlalchemy import create_engine, pool

        from shop.models import SQLModel
        from shop.settings import DSN

        target_metadata = SQLModel.metadata

        if context.is_offline_mode():
            context.configure(url=DSN, target_metadata=target_metadata, literal_binds=True)
            with context.begin_transaction():
                context.run_migrations()
        else:
            engine = create_engine(DSN, poolclass=pool.NullPool)
            with engine.connect() as connection:
                context.configure(connection=connection, target_metadata=target_metadata)
                with context.begin_transaction():
                    context.run_migrations()
    ''',
    "migrations/versions/b7e4c1d2a9f0_customers.py": '''
        """Customers.

        Revision ID: b7e4c1d2a9f0
        Revises:
        Create Date: 2025-05-01 10:00:00
        """
        import sqlalchemy as sa
        from alembic import op

        revision = "b7e4c1d2a9f0"
        down_revision = None
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table(
                "customer",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("fullName", sa.Text, nullable=False),
                sa.Column("emailAddress", sa.Text, nullable=False, unique=True),
            )


        def downgrade():
            op.drop_table("customer")
    ''',
    "migrations/versions/5c2a9e7f1b3d_orders.py": '''
        """Orders (a reserved word for a table name).

        Revision ID: 5c2a9e7f1b3d
        Revises: b7e4c1d2a9f0
        Create Date: 2025-05-02 10:00:00
        """
        import sqlalchemy as sa
        from alembic import op

        revision = "5c2a9e7f1b3d"
        down_revision = "b7e4c1d2a9f0"
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table(
                "order",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column(
                    "customerId",
                    sa.Integer,
                    sa.ForeignKey("customer.id", ondelete="CASCADE"),
                    nullable=False,
                ),
                sa.Column("placedAt", sa.DateTime(timezone=True), nullable=False),
                sa.Column("totalCents", sa.Integer, nullable=False),
            )


        def downgrade():
            op.drop_table("order")
    ''',
    "migrations/versions/e9d1f4a7c3b2_order_customer_index.py": '''
        """Index the orders by customer.

        Revision ID: e9d1f4a7c3b2
        Revises: 5c2a9e7f1b3d
        Create Date: 2025-05-03 10:00:00
        """
        from alembic import op

        revision = "e9d1f4a7c3b2"
        down_revision = "5c2a9e7f1b3d"
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_index("ix_order_customerId", "order", ["customerId"])


        def downgrade():
            op.drop_index("ix_order_customerId", table_name="order")
    ''',
}

SEED_SQL = """
    INSERT INTO customer ("fullName", "emailAddress")
    SELECT 'Customer ' || g, 'customer' || g || '@shop.example'
    FROM generate_series(1, 30) AS g;
    INSERT INTO "order" ("customerId", "placedAt", "totalCents")
    SELECT 1 + g % 30, now() - g * interval '1 hour', g * 100
    FROM generate_series(1, 200) AS g;
"""


def write_shop_project(root: Path) -> Path:
    """Write the project under `root`; return its alembic.ini."""
    for name, body in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body).lstrip())
    return root / "alembic.ini"
