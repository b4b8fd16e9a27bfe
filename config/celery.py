import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("pilotpulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The analytics tasks live with what they run (analytics/job/tasks.py, analytics/reports/tasks.py,
# analytics/exports/tasks.py), not in analytics/tasks.py.
app.autodiscover_tasks(["analytics.job", "analytics.reports", "analytics.exports"])
# The worker's and beat's heartbeats (signals and heartbeat_task) live in config/heartbeat.py.
app.autodiscover_tasks(["config"], related_name="heartbeat")
