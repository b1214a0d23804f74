"""Without greenlet (SQLAlchemy 2.1 leaves it out), the sync library works; asyncio says why not."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_sync_adapter_needs_no_greenlet_and_the_async_one_names_the_extra() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["greenlet"] = None  # as if not installed: importing it fails

        from reservation_core import AsyncReservationService, ReservationService
        from reservation_core.adapters.memory import AsyncInMemoryUnitOfWork, InMemoryStore
        from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
        from sqlalchemy import create_engine

        engine = create_engine("sqlite://")
        metadata.create_all(engine)
        service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
        assert service.create_schedule("s", 1).capacity == 1

        import asyncio
        store = InMemoryStore()
        memory = AsyncReservationService(lambda: AsyncInMemoryUnitOfWork(store))
        assert asyncio.run(memory.create_schedule("s", 2)).capacity == 2
        try:
            from reservation_core.adapters.sqlalchemy import AsyncSqlAlchemyUnitOfWork
        except ImportError as error:
            assert 'reservation-core[asyncio]' in str(error), error
        else:
            raise AssertionError("AsyncSqlAlchemyUnitOfWork imported without greenlet")
        """
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
