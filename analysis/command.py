"""The ``birnn-bench`` console command: the library's subcommands (``birnn_bench.cli``) and
``report`` (``python -m analysis report``). It lives here, above both packages, so that the
library never imports the analysis; the analysis imports (pandas, seaborn) only when ``report``
runs."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from birnn_bench import cli


def _report(argv: list[str]) -> int:
    try:
        from analysis.cli import main as analysis_main
    except ImportError as err:
        print(f"birnn-bench report: error: the analysis extras are missing ({err}); install them "
              "with pip install -e '.[analysis]' from the repository root", file=sys.stderr)
        return 2
    return analysis_main(["report", *argv])


COMMANDS: dict[str, cli.Extension] = {
    "report": ("analysis report from asv results (same as python -m analysis report)", _report)}


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, more=COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
