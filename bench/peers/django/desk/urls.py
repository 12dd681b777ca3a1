from rest_framework.routers import DefaultRouter

from .views import TicketViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("tickets", TicketViewSet, basename="ticket")

urlpatterns = router.urls
