#!/usr/bin/env bash
# Opens a lesson page (`ckptsim lesson … --out FILE`) in a headless browser with its self-test
# (FILE#selftest): the page clicks every narrated step and checks that each highlights something
# in the diagram, moves the time slider, draws the view inside each protocol's task, and reports
# on <body data-selftest>. Prints that report; exits 0 when it says ok, 1 when it does not, and
# 77 (skipped) when no browser is installed. The browser: $CKPTSIM_BROWSER, or the first of
# chromium, chromium-browser, google-chrome, google-chrome-stable on PATH.
set -uo pipefail
file="${1:?usage: scripts/check-lesson.sh LESSON.html}"
[ -f "$file" ] || { echo "no such file: $file" >&2; exit 1; }
browser="${CKPTSIM_BROWSER:-}"
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$b" >/dev/null 2>&1; then browser="$b"; break; fi
  done
fi
if [ -z "$browser" ]; then
  echo "skipped: no headless browser found (install chromium or set CKPTSIM_BROWSER)"
  exit 77
fi
url="file://$(cd "$(dirname "$file")" && pwd)/$(basename "$file")#selftest"
dom="$(timeout 120 "$browser" --headless --no-sandbox --disable-gpu --dump-dom "$url" 2>/dev/null)"
report="$(printf '%s' "$dom" | grep -o 'data-selftest="[^"]*"' | head -1 | sed 's/^data-selftest="//; s/"$//')"
if [ -z "$report" ]; then
  echo "$browser ran but the page left no self-test report (script did not run?)"
  exit 1
fi
echo "$browser: $report"
case "$report" in ok*) exit 0 ;; *) exit 1 ;; esac
