"""Who may use Regal's read API."""

from rest_framework.authtoken.models import Token
from rest_framework.permissions import BasePermission


class IsTokenHolderOrStaff(BasePermission):
    """Let in a user who sent an API token, or a staff member signed in.

    Agents sign in to the desk with a session too; a session alone opens the
    API only to staff, so the desk's accounts do not double as integrators.
    A source's write key is not a user and opens nothing here.
    """

    message = "send an API token, or sign in as staff"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        return isinstance(request.auth, Token) or user.is_staff
