#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Fields of a JSON file on one line, for the bench scripts.

  tools/jsonfields.py FILE PATH...

Prints the value at each PATH, tab-separated, in order: NA where the path
does not exist or holds null, true/false for booleans, numbers as written.
A PATH is keys joined by dots (cost.rss_events); a step NAME[KEY=VALUE]
takes the first element of the list NAME whose KEY is VALUE, compared as
text (processes[comm=xz].peak_rss_kb). Exit status 1 if FILE is missing or
not JSON (nothing printed), 2 on a bad command line.
"""

import json
import re
import sys

STEP = re.compile(r"^([^.\[\]]+)(?:\[([^=\]]+)=([^\]]*)\])?$")


def lookup(doc, path):
    cur = doc
    for step in path.split("."):
        m = STEP.match(step)
        if not m:
            raise ValueError(f"bad path step '{step}' in '{path}'")
        name, key, want = m.groups()
        if not isinstance(cur, dict) or name not in cur:
            return None
        cur = cur[name]
        if key is not None:
            if not isinstance(cur, list):
                return None
            cur = next((e for e in cur if isinstance(e, dict) and key in e
                        and text(e[key]) == want), None)
    return cur


def text(v):
    if v is None:
        return "NA"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"jsonfields: {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    try:
        print("\t".join(text(lookup(doc, p)) for p in sys.argv[2:]))
    except ValueError as e:
        print(f"jsonfields: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
