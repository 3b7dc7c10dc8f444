#!/usr/bin/env python3
"""The benchmark's output, checked as a test (TAP): not its speed, which no
test asserts on a shared machine, but that it runs, checks the engine's
work, and prints what bench/README.md says, with frames of the documented
size.  Usage: check-bench.py path/to/smmp-bench"""
import json
import subprocess
import sys

SIZES = [2, 5, 10]
KEYS = ["n", "messages", "send_us", "recv_us", "save_us", "frame_bytes", "state_bytes",
        "x25519_us", "megolm_encrypt_us", "megolm_decrypt_us", "send_x25519_ratio",
        "recv_x25519_ratio", "recv_vs_n2"]
TEXT_PADDED = 128  # smmp_padded_size(100)

results = []


def check(ok, what):
    results.append((bool(ok), what))


run = subprocess.run([sys.argv[1], "--json", "--sizes", ",".join(map(str, SIZES)),
                      "--messages", "25"], capture_output=True, text=True, timeout=300)
check(run.returncode == 0, "smmp-bench exits 0 (stderr: %s)" % run.stderr.strip()[-300:])
try:
    rows = json.loads(run.stdout)
except ValueError as e:
    rows = None
    check(False, "standard output is JSON: %s" % e)
else:
    check(isinstance(rows, list) and [r.get("n") for r in rows] == SIZES,
          "one JSON array, one object per N, in order")
rows = rows if isinstance(rows, list) else []
for r in rows:
    n = r.get("n")
    missing = [k for k in KEYS if k not in r]
    check(not missing, "N=%s: every figure is there (missing: %s)" % (n, missing))
    timed = [k for k in KEYS if k.endswith("_us")]
    check(all(isinstance(r.get(k), (int, float)) and r[k] > 0 for k in timed),
          "N=%s: every time is a positive number" % n)
    check(r.get("messages") == 25, "N=%s: 25 timed messages, as asked" % n)
    # docs/PROTOCOL.md 6.7: 204 + 32 (N - 1) + the padded text; the target
    # of the issue is 200 + 40 (N - 1) + the padded text.
    fb = r.get("frame_bytes")
    check(fb == 204 + 32 * (n - 1) + TEXT_PADDED,
          "N=%s: a DATA frame is 204 + 32 (N - 1) + 128 bytes (got %s)" % (n, fb))
    check(isinstance(fb, int) and fb <= 200 + 40 * (n - 1) + TEXT_PADDED,
          "N=%s: the frame is within 200 + 40 (N - 1) + 128 bytes" % n)
    check(r.get("recv_vs_n2") is not None and (n != 2 or abs(r["recv_vs_n2"] - 1) < 1e-9),
          "N=%s: recv_vs_n2 is given (1 at N = 2)" % n)
    ratio = r.get("send_us", 0) / r.get("x25519_us", 1)
    check(abs(ratio - r.get("send_x25519_ratio", -1)) < 0.01 * max(ratio, 1),
          "N=%s: send_x25519_ratio is send_us / x25519_us" % n)
states = [r.get("state_bytes", 0) for r in rows]
check(states == sorted(states) and len(set(states)) == len(states),
      "the saved state grows with N")

print("1..%d" % len(results))
for i, (ok, what) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
sys.exit(0 if all(ok for ok, _ in results) else 1)
