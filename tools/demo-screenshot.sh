#!/usr/bin/env bash
# A PNG of a report page, as a browser shows it: headless chromium, the
# page's script run first. make demo calls it on .output/demo/demo.html;
# README's docs/demo-report.png is what it wrote there.
#   tools/demo-screenshot.sh [PAGE.html [OUT.png [WIDTH,HEIGHT]]]
set -euo pipefail
page=${1:-.output/demo/demo.html}
out=${2:-${page%.html}.png}
size=${3:-1200,860}
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
	echo "demo-screenshot: no chromium (tools/install-deps.sh installs it)" >&2
	exit 1
fi
profile=$(mktemp -d "${TMPDIR:-/tmp}/memtrace-shot.XXXXXX")
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: chromium refuses to run as root without it (make demo runs as root)
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
	--user-data-dir="$profile" --window-size="$size" --virtual-time-budget=10000 \
	--screenshot="$out" "file://$(realpath "$page")" 2>/dev/null
[ -s "$out" ] || { echo "demo-screenshot: no PNG written for $page" >&2; exit 1; }
echo "$out: $(stat -c %s "$out") bytes, the page $page as headless chromium shows it"
