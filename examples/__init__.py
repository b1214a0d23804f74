"""Example web apps on reservation_core: FastAPI, Flask and Django (run from the repo root)."""
