#!/usr/bin/env python3
"""System time of writing a new file of MB megabytes from cold 1.2 MB buffers, three times in a
row, each file deleted right after it is written (so the next one can reuse its pages).

Usage: python3 scripts/bench-write.py [MB=256] [DIR=bench-data]

On a VM that hands freed memory back to its host, the first pass pays for touching pages the
host has to supply again; the later passes reuse the pages the deleted file freed. A scrub that
writes its output into a new file pays the first figure, whatever the tool.
"""
import os
import resource
import sys
import time

MB = int(sys.argv[1]) if len(sys.argv) > 1 else 256
DIR = sys.argv[2] if len(sys.argv) > 2 else "bench-data"
CHUNK = 1228627  # about the size of the CSV scrub's writes
os.makedirs(DIR, exist_ok=True)
# 64 distinct buffers (78 MB): larger than the caches, as a scrub's output chunks are.
bufs = [bytearray(os.urandom(CHUNK)) for _ in range(64)]
total = MB * 1_000_000
for trial in range(3):
    path = os.path.join(DIR, f".bench-write-{trial}")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    n = k = 0
    while n < total:
        n += os.write(fd, bufs[k % len(bufs)])
        k += 1
    os.close(fd)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    sys_s = r1.ru_stime - r0.ru_stime
    print(f"pass {trial + 1}: {MB} MB in {time.time() - t0:.3f} s, system {sys_s:.3f} s "
          f"({sys_s * 1000 / MB:.2f} ms per MB)")
    os.remove(path)
