from django.urls import URLPattern, URLResolver, path

from analytics.exports import api

# The exports API (start, status, download), mounted by analytics.api.urls at /api/v1/exports/.
urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.ExportStartApi.as_view(), name="exports-api-start"),
    path("<int:job_id>/", api.ExportStatusApi.as_view(), name="exports-api-status"),
    path("<int:job_id>/download/", api.ExportDownloadApi.as_view(), name="exports-api-download"),
]
