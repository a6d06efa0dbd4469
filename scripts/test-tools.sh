# Sourced by scripts/test: tools the tests need beyond Python packages.
# npm tools (package.json at the top level) go to node_modules/.bin, which the tests find.
if [ -f package.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "npm is needed for the tests: sudo apt-get install nodejs npm" >&2
      exit 1
    fi
  fi
  LOCK_HASH="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
  if [ ! -f node_modules/.install-stamp ] || [ "$(cat node_modules/.install-stamp)" != "$LOCK_HASH" ]; then
    echo "Installing npm test tools..." >&2
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi
    echo "$LOCK_HASH" >node_modules/.install-stamp
  fi
fi
