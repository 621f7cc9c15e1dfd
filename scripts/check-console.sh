#!/usr/bin/env bash
# Checks the web console's ES modules (functions/api/console/*.js) without a browser or a
# build: type-checks them (their JSDoc against the API types generated in shared/types.ts)
# with TypeScript's tsc (console-test/tsconfig.json), then runs their unit tests
# (console-test/unit/*.test.mjs: word diff, error texts, formatters) with `node --test`.
# Installs console-test's npm packages (`npm ci`) when TypeScript is not there at the pinned
# version. The browser test of the whole console is console-test/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../console-test"

wanted=$(node -p "require('./package.json').devDependencies.typescript")
have=$(node -p "try { require('./node_modules/typescript/package.json').version } catch { '' }")
if [ "$have" != "$wanted" ]; then
  npm ci --no-audit --no-fund
fi

echo "check-console.sh: tsc -p console-test/tsconfig.json"
npx --no -- tsc -p tsconfig.json
echo "check-console.sh: node --test console-test/unit/"
node --test unit/*.test.mjs
