"""Suite-wide settings.

Background compiles of the specialised tier are switched off for the suite
(``DIFFID_PLUGINS_BACKGROUND=0``): each test compiles what it uses in the foreground, so
runs are reproducible and CI's two cores are not shared with niced compiler processes. The
tier tests (``tests/test_tiers.py``) switch it on where they test it.
"""

from __future__ import annotations

import os

os.environ.setdefault("DIFFID_PLUGINS_BACKGROUND", "0")
