"""API view for a background cascade's progress (GET /api/v1/cascade-jobs/<id>)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api.errors import error_responses
from workflows.cases import cascade_jobs
from workflows.models import CascadeJob


class CascadeJobSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id", read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", allow_null=True, default=None
    )
    # A plain string, as on reports: an enum would collide with other "state" components.
    state = serializers.CharField(help_text="queued, running, done or failed")
    url = serializers.SerializerMethodField(help_text="This job's own address")

    class Meta:
        model = CascadeJob
        fields = [
            "id",
            "case",
            "requested_by",
            "level",
            "targets",
            "total",
            "done",
            "failed",
            "state",
            "error",
            "created_at",
            "finished_at",
            "url",
        ]

    def get_url(self, job) -> str:
        return cascade_job_url(job)


def cascade_job_url(job: CascadeJob) -> str:
    return reverse("api:cascade-job", args=[job.pk])


class CascadeJobView(APIView):
    @extend_schema(
        operation_id="cascade_job",
        responses={200: CascadeJobSerializer, **error_responses(404)},
    )
    def get(self, request, pk):
        """A cascade job's progress, for those who may see its case."""
        job = cascade_jobs.cascade_job_get_visible(request.user, pk)
        return Response(CascadeJobSerializer(job).data)
