"""``reservation_core_audit``."""
