"""Dataset version routes under /api/v1/ (filled in by the exports work)."""

urlpatterns: list = []
