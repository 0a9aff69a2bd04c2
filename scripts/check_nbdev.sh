#!/usr/bin/env bash
# Fails when nbdev_clean or nbdev_export would change a file: notebooks must be clean and
# dallm/ must be exactly what the notebooks export. Works with or without uncommitted changes.
set -euo pipefail
snapshot() { find nbs dallm -type f \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 md5sum; }
before=$(snapshot)
nbdev_clean
nbdev_export
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "nbdev_clean / nbdev_export changed these files (run both, check the diff, commit):"
  diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print "  " $3}' | sort -u
  exit 1
fi
if ! python -c "import sys; from dallm.report import readme_from_notebook as r; sys.exit(r('nbs/index.ipynb') != open('README.md', encoding='utf-8').read())"; then
  echo "README.md differs from nbs/index.ipynb, its source: edit the notebook, then make readme"
  exit 1
fi
echo "nbdev: notebooks clean, dallm/ in sync with nbs/, README.md generated from nbs/index.ipynb"
