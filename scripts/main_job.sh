#!/usr/bin/env bash
# The main job (README "Quick start"): correctness matrix, a quick CPU asv run of this commit in
# groups that are saved as they end, and the analysis report. See scripts/main_job.py.
set -euo pipefail
exec python3 "$(dirname "$0")/main_job.py" "$@"
