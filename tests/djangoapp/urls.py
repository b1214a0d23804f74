"""The example's routes plus a view that books and then fails, for ``ATOMIC_REQUESTS``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from examples.django_app.urls import urlpatterns as example_urlpatterns
from reservation_core.contrib.django import get_service


@csrf_exempt
def book_twice(request: HttpRequest, schedule_id: str, user_id: str) -> JsonResponse:
    """No ``atomic`` of its own: the request's transaction is the only one."""
    service = get_service()
    service.create_reservation(schedule_id, user_id)
    service.create_reservation(schedule_id, user_id)  # DUPLICATE_RESERVATION
    return JsonResponse({}, status=201)  # pragma: no cover - never reached


urlpatterns = [
    *example_urlpatterns,
    path("book-twice/<str:schedule_id>/<str:user_id>", book_twice),
]
