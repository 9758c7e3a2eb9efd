#!/usr/bin/env bash
# A mutation score of one module against the unit tests written for it (stryker.jest.config.js
# LM_MUTATE_TESTS), niced: `bash scripts/mutate.sh config/backups.ts`. Without an argument, every
# module of the table below, one after the other. Each run's summary (counts, score, seconds,
# survivors) goes to bench/results/mutation/<date>-<module>.json (scripts/mutationSummary.js).
set -euo pipefail
cd "$(dirname "$0")/.."

tests_for() {
  case "$1" in
    config/backups.ts) echo "backupsConfig.test.ts" ;;
    components/backups.ts) echo "backupsComponent.test.ts" ;;
    config/tls.ts) echo "tlsConfig.test.ts" ;;
    render/tls.ts) echo "tlsConfig.test.ts" ;;
    components/tls.ts) echo "tlsComponent.test.ts" ;;
    config/reader.ts | config/load.ts) echo "configLoad.test.ts" ;;
    cli/restoreArgs.ts) echo "restoreArgs.test.ts" ;;
    cli/copies.ts | cli/restoreFrom.ts) echo "restoreParts.test.ts restoreArgs.test.ts" ;;
    *) echo "scripts/mutate.sh: no test list for $1 (add it here)" >&2; return 1 ;;
  esac
}

modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(config/backups.ts components/backups.ts config/tls.ts render/tls.ts components/tls.ts config/reader.ts config/load.ts)
# The restore command's pure parts (its Docker and sftp parts: test/e2e/restoreCopies.test.ts).
[ $# -gt 0 ] || modules+=(cli/restoreArgs.ts cli/copies.ts cli/restoreFrom.ts)
for m in "${modules[@]}"; do
  tests=$(tests_for "$m")
  start=$SECONDS
  LM_MUTATE_TESTS="$tests" nice -n 19 npx stryker run --mutate "$m"
  node scripts/mutationSummary.js "$m" "$tests" $((SECONDS - start))
done
