"""Loaded by pytest before Django's settings (``-p tests.testenv`` in pytest.ini).

The test run gets a data folder of its own, so tests never touch (or race with) the demo's
``var/``, its SQLite file or its broker folder.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("QUORUM_DATA_DIR", str(ROOT / ".pytest_data"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
