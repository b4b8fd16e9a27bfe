from django.urls import path

from surveys import views

urlpatterns = [
    path("pulse/", views.pulse_status, name="pulse_status"),
    path("s/<str:token>/", views.survey, name="survey"),
    path("thanks/", views.survey_thanks, name="survey_thanks"),
    path("resend/", views.link_resend_view, name="link_resend"),
    path("privacy/", views.privacy, name="privacy"),
]
