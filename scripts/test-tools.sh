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
    # Not `npm ci`: the lock records only the optional platform packages the registry had
    # when it was made (anvil ships one per OS/CPU, and a registry mirror may hold only
    # linux-x64), and `npm ci` refuses a lock without all of them ("Missing: … from lock
    # file"). `npm install --no-save` installs the locked versions and never rewrites the lock.
    npm install --no-save --no-audit --no-fund --silent
    echo "$LOCK_HASH" >node_modules/.install-stamp
  fi
fi

# The signing-page tests drive Debian's Chromium through Playwright (Playwright's own
# browser download is never used).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing chromium..." >&2
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is needed for the browser tests: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
