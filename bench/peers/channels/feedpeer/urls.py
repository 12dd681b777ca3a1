from django.urls import path

from chat import views as chat
from feed import views

urlpatterns = [
    path("healthz", views.healthz),
    path("tickets/<int:ticket_id>/comments", views.add_comment),
    path("conversations", chat.open_conversation),
    path("conversations/<int:conversation_id>/messages", chat.post_message),
    path("conversations/<int:conversation_id>/verify", chat.verify),
]
