from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Stable pages over lists that grow while clients read them (items, answers)."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
