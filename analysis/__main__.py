"""``python -m analysis report --out DIR``."""

import sys

from analysis.cli import main

sys.exit(main())
