from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import queries
from contacts.api.serializers import (
    ContactDetailSerializer,
    ContactFilterSerializer,
    ContactSerializer,
)
from regal.api import error_responses
from regal.pagination import NewestFirstPagination


class ContactPagination(NewestFirstPagination):
    ordering = "-id"


@extend_schema(tags=["contacts"])
class ContactViewSet(viewsets.GenericViewSet):
    """Contacts, for integrators reading back what Regal knows."""

    serializer_class = ContactSerializer
    pagination_class = ContactPagination
    lookup_value_regex = "[0-9]+"

    @extend_schema(
        parameters=[ContactFilterSerializer],
        responses={200: ContactSerializer(many=True), **error_responses(400)},
    )
    def list(self, request: Request) -> Response:
        filters = ContactFilterSerializer(
            data={
                **request.query_params.dict(),
                "property": request.query_params.getlist("property"),
            }
        )
        filters.is_valid(raise_exception=True)
        contacts = queries.list_contacts(
            phone=filters.validated_data.get("phone"),
            email=filters.validated_data.get("email"),
            user_id=filters.validated_data.get("user_id"),
            properties=filters.validated_data.get("property", []),
        )
        page = self.paginate_queryset(contacts)
        return self.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses={200: ContactDetailSerializer, **error_responses(404)},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        contact = queries.get_contact_with_consent(int(pk))
        if contact is None:
            raise NotFound("no contact has this id")
        return Response(ContactDetailSerializer(contact).data)
