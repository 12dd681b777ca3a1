from django.urls import path

from feed import views

urlpatterns = [
    path("healthz", views.healthz),
    path("tickets/<int:ticket_id>/comments", views.add_comment),
]
