"""Management commands of the reservation_core Django app."""
