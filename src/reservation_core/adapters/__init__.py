"""Storage adapters: :mod:`.memory` and :mod:`.sqlalchemy`."""
