"""``python -m analysis report|findings``."""

from analysis.cli import main

raise SystemExit(main())
