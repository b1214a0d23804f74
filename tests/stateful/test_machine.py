"""The kit's state machine against the real service, on every backend.

On an ``async-`` backend the kit is given the ``AsyncReservationService`` itself, and
awaits it on its own event loop, as a user's test would.
"""

from __future__ import annotations

from hypothesis.stateful import run_state_machine_as_test

from reservation_core.testing import build_state_machine
from tests.backends import Backend
from tests.stateful.soak import soak_marks, stateful_settings

# A database answers each of the invariant's reads in a round trip: fewer examples there.
# 20, not 25, since the machine learned waiting lists (their entries are read after every
# step too): the suite's time on the databases stays what it was.
EXAMPLES = {"memory": 40}
DATABASE_EXAMPLES = 20

pytestmark = soak_marks()


def test_service_keeps_the_contract_under_random_sequences(backend: Backend) -> None:
    examples = EXAMPLES.get(backend.name, DATABASE_EXAMPLES)
    run_state_machine_as_test(
        build_state_machine(backend.kit_service),
        settings=stateful_settings(backend.name, max_examples=examples, steps=30),
    )
