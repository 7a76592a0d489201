"""Cursor pagination for the read API's lists."""

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class NewestFirstPagination(CursorPagination):
    """Pages by cursor, so rows stored while a client pages are neither missed
    nor seen twice. Subclasses set `ordering`, ending on a unique column.

    A cursor is only base64 the client can forge: one whose position does not
    fit the ordering column answers 404 invalid cursor, like a garbled one,
    rather than failing in the database.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        if not request.query_params.get(self.cursor_query_param):
            return super().paginate_queryset(queryset, request, view)
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValidationError, ValueError, OverflowError) as exc:
            raise NotFound(self.invalid_cursor_message) from exc
