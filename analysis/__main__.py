"""``python -m analysis report|findings``."""

import sys

from analysis.cli import main

sys.exit(main())
