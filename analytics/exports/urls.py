from django.urls import URLPattern, URLResolver, path

from analytics.exports import views

# HR's export pages, mounted by config/urls.py at /exports/.
app_name = "exports"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.exports_home, name="home"),
    path("<int:job_id>/status/", views.export_status, name="status"),
    path("<int:job_id>/download/", views.export_download, name="download"),
]
