"""Routes of the example project: the JSON API and the (read-only) admin."""

from django.contrib import admin
from django.urls import path

from examples.django_app import views

# No such route: the library's JSON, not Django's HTML page.
handler404 = "examples.django_app.views.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("schedules", views.create_schedule),
    path("schedules/<str:schedule_id>", views.get_schedule),
    path("schedules/<str:schedule_id>/reservations", views.create_reservation),
    path("schedules/<str:schedule_id>/holds", views.hold_reservation),
    path("reservations", views.list_reservations),
    path("holds/release-expired", views.release_expired_holds),
    path("reservations/<str:reservation_id>", views.get_reservation),
    path("reservations/<str:reservation_id>/confirm", views.confirm_reservation),
    path("reservations/<str:reservation_id>/cancel", views.cancel_reservation),
    path("reservations/<str:reservation_id>/refund", views.refund_reservation),
    path("orders", views.create_order),
    path("orders/<str:order_id>", views.get_order),
    path("orders/<str:order_id>/confirm", views.confirm_order),
    path("orders/<str:order_id>/cancel", views.cancel_order),
    path("schedules/<str:schedule_id>/waitlist", views.join_waitlist),
    path("waitlist/<str:entry_id>", views.get_waitlist_entry),
    path("waitlist/<str:entry_id>/leave", views.leave_waitlist),
]
