"""The REST API at /api/v1/ (Django REST Framework): reads numbers only through analytics.published."""
