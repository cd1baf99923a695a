#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Deterministic English-like text, the input of the bench's real program.

  tools/gentext.py MIB [SEED] > FILE

Writes MIB MiB (exactly) of sentences and paragraphs made of a made-up
vocabulary of 20,000 words whose frequencies follow Zipf's law, as words
in a natural language roughly do, so that a compressor finds repeats at
every distance and compresses it about as well as prose (xz -6: ~4x).
The same MIB and SEED give the same bytes on every machine (Python's
random.Random is a Mersenne Twister with a documented seeding of ints;
only random() and getrandbits() are used). Needs nothing from the network.
"""

import bisect
import itertools
import random
import sys

LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
# rough English letter frequencies, per mille, in LETTERS order
WEIGHTS = (127, 91, 82, 75, 70, 67, 63, 61, 60, 43, 40, 28, 28, 24, 24, 22,
           20, 20, 19, 15, 10, 8, 2, 2, 1, 1)


def pick(rng, cum):
    """An index drawn with the weights whose running sums are cum."""
    return bisect.bisect_right(cum, rng.random() * cum[-1])


def vocabulary(rng, n):
    letter_cum = list(itertools.accumulate(WEIGHTS))
    words, seen = [], set()
    while len(words) < n:
        # short words are the frequent ones: rank r gets about log r letters
        length = 1 + min(11, int(rng.random() * 3 + len(words).bit_length() / 2))
        w = "".join(LETTERS[pick(rng, letter_cum)] for _ in range(length))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def main():
    if len(sys.argv) not in (2, 3) or not all(a.isdigit() for a in sys.argv[1:]) \
            or int(sys.argv[1]) == 0:
        sys.exit("usage: gentext.py MIB [SEED]   (MIB a positive integer, SEED >= 0)")
    size = int(sys.argv[1]) << 20
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) == 3 else 14)
    words = vocabulary(rng, 20000)
    zipf_cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(words))))
    out, n = [], 0
    while n < size:
        para = []
        for _ in range(2 + int(rng.random() * 6)):
            sent = [words[pick(rng, zipf_cum)] for _ in range(4 + int(rng.random() * 18))]
            sent[0] = sent[0].capitalize()
            for i in range(1, len(sent) - 1):
                if rng.random() < 0.06:
                    sent[i] += ","
            para.append(" ".join(sent) + ("?" if rng.random() < 0.05 else "."))
        text = " ".join(para) + "\n\n"
        out.append(text)
        n += len(text)
    data = "".join(out).encode("ascii")[:size]
    sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
