"""The signed-in user's own things: the views of pages they keep (``/api/me/views/``). Thin adapters to
``dispatch.services.accounts``; a user only ever sees and changes their own."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch.models import SavedView
from dispatch.rest.fields import TextField
from dispatch.services.accounts import saved_view_delete, saved_view_save


class SavedViewSerializer(serializers.ModelSerializer):
    class Meta:
        model = SavedView
        fields = ["id", "page", "name", "query", "updated_at"]
        read_only_fields = ["id", "updated_at"]


class SavedViewRequestSerializer(serializers.Serializer):
    page = serializers.ChoiceField(choices=SavedView.Page.choices)
    name = TextField(max_length=80)
    query = TextField(max_length=1000, allow_blank=True, default="")


class SavedViewListView(APIView):
    @extend_schema(responses=SavedViewSerializer(many=True), summary="The caller's saved views (?page= one page's)")
    def get(self, request):
        views = SavedView.objects.filter(user=request.user)
        if request.query_params.get("page"):
            views = views.filter(page=request.query_params["page"])
        return Response(SavedViewSerializer(views, many=True).data)

    @extend_schema(request=SavedViewRequestSerializer, responses={201: SavedViewSerializer, 200: SavedViewSerializer},
                   summary="Save a view (201), or replace the caller's view of that name (200)")
    def post(self, request):
        body = SavedViewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        view, created = saved_view_save(user=request.user, **body.validated_data)
        return Response(SavedViewSerializer(view).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class SavedViewDetailView(APIView):
    @extend_schema(responses={204: None}, summary="Delete one of the caller's saved views")
    def delete(self, request, pk: int):
        saved_view_delete(user=request.user, pk=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
