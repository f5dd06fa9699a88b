"""``python -m diffid_plugins``: the main job (see :mod:`diffid_plugins.cli`)."""

from diffid_plugins.cli import main

raise SystemExit(main())
