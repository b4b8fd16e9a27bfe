"""Settings for the load benchmark only (bench/load_submit.py starts gunicorn with them).

The product's settings, plus a URLconf with the benchmark's trivial and floor views. Nothing in
the product points here: config.urls never includes bench.load_urls, and bench/ is neither
packaged (pyproject) nor copied into the image (Dockerfile).
"""

import os

from config.settings import *  # noqa: F403 - the product's settings, unchanged but for the lines below
from config.settings import DATABASES

ROOT_URLCONF = "bench.load_urls"
DEBUG = False
# A throwaway database of its own, created and dropped by bench/load_submit.py, apart from the
# test databases pytest makes from the same DATABASE_URL.
DATABASES["default"]["TEST"] = {"NAME": f"{DATABASES['default']['NAME']}_load"}

# What the floor view writes its rows against: a closed cycle the benchmark makes for it, so its
# rows never mix with the submissions' counts. Set by bench/load_submit.py for gunicorn.
LOAD_FLOOR_CYCLE_ID = int(os.environ.get("PULSE_LOAD_FLOOR_CYCLE_ID", "0"))
LOAD_INSTRUMENT_VERSION_ID = int(os.environ.get("PULSE_LOAD_INSTRUMENT_VERSION_ID", "0"))
