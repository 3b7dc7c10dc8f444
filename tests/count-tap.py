#!/usr/bin/env python3
r"""Count the TAP results of one or more `meson test` passes.

Used by tests/run-suite; it can also be run by hand:

    tests/count-tap.py gcc=build/meson-logs/testlog.json \
                       valgrind=build/meson-logs/testlog-valgrind.json

Each argument is NAME=TESTLOG.json, optionally NAME=TESTLOG.json:RC where RC
is the exit status of that `meson test` run, or NAME=!REASON for a pass that
could not run at all (its build failed, say), which counts as one failure.

A testlog.json has one JSON object per line, one per test, with "name",
"result" and "stdout" (for a TAP test, its TAP text).  Counting rules:

  * `ok N ...`                    a pass
  * `ok N ... # SKIP ...`         a skip (not a pass)
  * `not ok N ...`                a failure
  * `not ok N ... # TODO ...`     a skip
  * a test whose result is not OK/EXPECTEDFAIL/SKIP but whose TAP shows no
    failure (crash, timeout, non-zero exit, bad plan) counts one extra failure
  * a test with no TAP lines at all counts as one pass (result OK or
    EXPECTEDFAIL), one skip (result SKIP) or one failure (anything else)
  * in a test that is expected to fail (result EXPECTEDFAIL) a `not ok` counts
    as a skip, as meson itself does not count it as a failure
  * a testlog that is missing although `meson test` failed, or a `meson test`
    that failed although its testlog shows no failure, counts one failure

Prints the failing tests (name, result, failing TAP lines, tail of output),
then one line per pass, `pass NAME: N passed, N failed[, N skipped]`, and as
the very last line the sum over all passes, `N passed, N failed[, N
skipped]`.  Exit status 0 only if nothing failed and at least one test
passed.
"""

import json
import os
import re
import sys

TAP_LINE = re.compile(r'^(not ok|ok)\b(.*)$')
DIRECTIVE = re.compile(r'#\s*(SKIP|TODO)\b', re.IGNORECASE)
OK_RESULTS = ('OK', 'EXPECTEDFAIL')
TAIL_LINES = 25


class Counts:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped

    def line(self):
        s = '%d passed, %d failed' % (self.passed, self.failed)
        if self.skipped:
            s += ', %d skipped' % self.skipped
        return s


def count_test(rec):
    """Return (Counts, list of failing TAP lines) for one testlog record."""
    c = Counts()
    bad_lines = []
    result = str(rec.get('result', 'ERROR')).upper()
    expected_fail = result == 'EXPECTEDFAIL'
    seen_tap = False
    for raw in (rec.get('stdout') or '').splitlines():
        m = TAP_LINE.match(raw.rstrip('\r'))
        if not m:
            continue
        seen_tap = True
        is_ok = m.group(1) == 'ok'
        d = DIRECTIVE.search(m.group(2))
        directive = d.group(1).upper() if d else None
        if is_ok:
            if directive == 'SKIP':
                c.skipped += 1
            else:
                c.passed += 1       # includes `ok ... # TODO` (a bonus)
        else:
            if directive == 'TODO' or expected_fail:
                c.skipped += 1
            else:
                c.failed += 1
                bad_lines.append(raw.strip())
    if not seen_tap:
        if result in OK_RESULTS:
            c.passed += 1
        elif result == 'SKIP':
            c.skipped += 1
        else:
            c.failed += 1
    elif result not in OK_RESULTS and result != 'SKIP' and c.failed == 0:
        c.failed += 1
    return c, bad_lines


def tail(text, n=TAIL_LINES):
    lines = (text or '').rstrip('\n').splitlines()
    return lines[-n:]


def report_failure(pass_name, rec, bad_lines):
    name = rec.get('name', '?')
    result = rec.get('result', '?')
    rc = rec.get('returncode')
    print('FAILED [%s] %s: %s (exit status %s)' % (pass_name, name, result, rc))
    for ln in bad_lines[:20]:
        print('    ' + ln)
    if len(bad_lines) > 20:
        print('    ... and %d more failing TAP lines' % (len(bad_lines) - 20))
    out = tail(rec.get('stdout'))
    if out:
        print('  --- last %d lines of stdout ---' % len(out))
        for ln in out:
            print('  | ' + ln)
    err = tail(rec.get('stderr'))
    if err:
        print('  --- last %d lines of stderr ---' % len(err))
        for ln in err:
            print('  | ' + ln)


def count_pass(pass_name, spec):
    """Count one pass; print its failures; return its Counts."""
    c = Counts()
    if spec.startswith('!'):
        print('FAILED [%s] %s' % (pass_name, spec[1:] or 'pass did not run'))
        c.failed += 1
        return c
    path, rc = spec, None
    m = re.match(r'^(.*):(-?\d+)$', spec)
    if m:
        path, rc = m.group(1), int(m.group(2))
    if not os.path.exists(path):
        if rc:
            print('FAILED [%s] meson test exited %d and wrote no %s'
                  % (pass_name, rc, path))
            c.failed += 1
        return c
    with open(path, encoding='utf-8', errors='replace') as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                print('FAILED [%s] %s:%d: not JSON' % (pass_name, path, n))
                c.failed += 1
                continue
            tc, bad_lines = count_test(rec)
            if tc.failed:
                report_failure(pass_name, rec, bad_lines)
            c.add(tc)
    if rc and c.failed == 0:
        print('FAILED [%s] meson test exited %d although %s shows no failure'
              % (pass_name, rc, path))
        c.failed += 1
    return c


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__.strip())
        return 2 if not argv else 0
    passes = []
    for arg in argv:
        name, sep, spec = arg.partition('=')
        if not sep or not name:
            print('count-tap.py: bad argument %r (want NAME=TESTLOG.json[:RC])'
                  % arg, file=sys.stderr)
            return 2
        passes.append((name, count_pass(name, spec)))
    total = Counts()
    for name, c in passes:
        total.add(c)
    if total.passed == 0 and total.failed == 0:
        print('NO TEST PASSED: that counts as a failed run')
    for name, c in passes:
        print('pass %s: %s' % (name, c.line()))
    sys.stdout.flush()
    print(total.line())
    return 0 if total.failed == 0 and total.passed > 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
