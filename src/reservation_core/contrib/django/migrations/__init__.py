"""Django migrations of the ``rc_`` tables: one per revision of the Alembic branch."""
