#!/usr/bin/python3
"""demo.py: the demo of tests/run-demo, on the XMPP test bed.

A private Prosody on a free port of 127.0.0.1 in a temporary directory;
alice, bob and carol (smmp-client, headless libpurple with the plugin
core-smmp) join one room, alice types `/smmp start` and all three talk at
once; carol leaves and alice and bob must re-key without her; dave signs
on, joins and alice adds him with `/smmp add dave`; alice, bob and dave
talk.  Then each member's window (what it showed: decrypted messages and
the plugin's notices) and what Prosody stored for the room (only armour,
none of the typed texts).

Every step is waited for (events, with time-outs) and reported as it
went, failures too; the exit status is 0 only if every step went as it
should.  Prosody is stopped by its PID at the end, also on a failure.
Needs only the standard library (no raw XMPP client).

By hand (after building):
    SMMP_CLIENT=build/tests/xmpp/smmp-client SMMP_PLUGIN_DIR=build/plugin \\
        /usr/bin/python3 tests/xmpp/demo.py
SMMP_XMPP_KEEP=1 keeps the temporary directory.
"""

import os
import sys
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import secured  # noqa: E402

ROOM = harness.room_jid('demo')
# A key agreement on a loaded machine may take a while.
WAIT = max(harness.TIMEOUT, 60)


class StepFailed(Exception):
    """A step that the rest of the scenario depends on failed."""


class Report:
    """Prints each step as it went and counts the failed ones."""

    def __init__(self):
        self.failures = 0

    def section(self, title):
        print('\n== %s' % title, flush=True)

    def check(self, ok, text):
        print('%s %s' % ('  ok    ' if ok else '  FAILED', text), flush=True)
        if not ok:
            self.failures += 1
        return ok

    def must(self, ok, text):
        """check(); the scenario cannot go on without it."""
        if not self.check(ok, text):
            raise StepFailed(text)

    def attempt(self, text, fn, /, *args, **kwargs):
        """Runs fn(*args, **kwargs) (a wait, usually); a time-out or a
        client gone is reported as a failed step and ends the scenario."""
        try:
            return fn(*args, **kwargs)
        except (AssertionError, harness.BedError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            self.check(False, '%s: %s' % (text, first))
            raise StepFailed(text) from e


class Demo:
    def __init__(self, bed, report):
        self.bed = bed
        self.r = report
        self.clients = {}
        # Everything typed, to look for in what the server stored.
        self.said = []

    def c(self, name):
        return self.clients[name]

    def group(self, names):
        return [self.clients[n] for n in names]

    # -- pieces

    def start_clients(self, names):
        started = self.r.attempt('%s sign on with core-smmp' % ', '.join(names),
                                 secured.start_clients, self.bed, names)
        for c in started:
            self.clients[c.name] = c
            ev = c.wait_event('plugin-loaded', id='core-smmp', since=c.start_index)
            self.r.check(True, '%s signed on, plugin core-smmp loaded from %s'
                         % (c.name, ev.get('path')))
        return started

    def join(self, joining, present):
        for c in joining:
            c.join(ROOM, wait=False)
        for c in joining:
            self.r.attempt('%s joined %s' % (c.name, ROOM), c.wait_event, 'joined',
                           room=ROOM, timeout=WAIT)
        for c in self.group(present):
            self.r.attempt('%s lists %s in the room' % (c.name, ', '.join(present)),
                           c.wait_members, ROOM, present, timeout=WAIT)
        self.r.check(True, '%s see %s in the room' % (', '.join(present), ', '.join(present)))

    def command(self, client, line):
        since = client.mark()
        client.say(line)
        ev = self.r.attempt('%s: %s' % (client.name, line), client.wait_event, 'command',
                            since=since, timeout=WAIT)
        self.r.must(ev.get('status') == 'ok', '%s: %s ran (%s)' % (client.name, line,
                                                                   ev.get('status')))

    def sessions_up(self, names, since, leaves_out=None):
        """Each of `names` shows a new "session up" line naming exactly
        them, all with one verification code."""
        codes = set()
        for c in self.group(names):
            e = self.r.attempt('%s shows a new session' % c.name, c.wait_write,
                               text=lambda p: p.startswith(secured.UP), flags=['system'],
                               since=since[c.name], timeout=WAIT)
            members = secured.up_members(e['plain'])
            codes.add(secured.up_code(e['plain']))
            ok = sorted(members) == sorted(names)
            if leaves_out:
                ok = ok and leaves_out not in members
            self.r.check(ok, '%s: %s' % (c.name, e['plain'].splitlines()[0]))
        self.r.check(len(codes) == 1, 'one verification code at %s: %s'
                     % (', '.join(names), ', '.join(sorted(codes))))

    def talk(self, lines, readers):
        """Each (sender, text) typed at once; every reader shows each text
        exactly once, from its sender."""
        since = secured.marks(self.group(readers))
        for who, text in lines:
            self.said.append(text)
            self.c(who).say(text)
        for c in self.group(readers):
            missing = []
            for who, text in lines:
                try:
                    c.wait_write(text=text, who=who, since=since[c.name], timeout=WAIT)
                except harness.WaitTimeout:
                    missing.append(text)
                except harness.BedError as e:
                    self.r.check(False, '%s: %s' % (c.name, str(e).splitlines()[0]))
                    raise StepFailed('%s exited' % c.name) from e
            c.ping()
            twice = [t for _, t in lines if secured.shown(c, ROOM, t, since[c.name]) > 1]
            got = len(lines) - len(missing)
            self.r.check(not missing and not twice, '%s shows %d of %d messages%s%s'
                         % (c.name, got, len(lines),
                            '; missing: %s' % missing if missing else '',
                            '; more than once: %s' % twice if twice else ''))
        return [t for _, t in lines]

    # -- the scenario

    def run(self):
        r = self.r
        r.section('alice, bob and carol sign on and join %s' % ROOM)
        self.start_clients(['alice', 'bob', 'carol'])
        self.join(self.group(['alice', 'bob', 'carol']), ['alice', 'bob', 'carol'])

        r.section('alice: /smmp start')
        first3 = ['alice', 'bob', 'carol']
        since = secured.marks(self.group(first3))
        self.command(self.c('alice'), '/smmp start')
        self.sessions_up(first3, since)

        r.section('all three talk at once')
        self.talk([('alice', 'hi all'), ('bob', '<b>not bold</b> & fine'),
                   ('carol', 'morning!'), ('alice', 'the plan is at noon'),
                   ('bob', 'agreed'), ('carol', 'see you then')], first3)
        before_dave = list(self.said)

        r.section('carol leaves the room; alice and bob must re-key without her')
        two = ['alice', 'bob']
        since = secured.marks(self.group(two))
        carol = self.c('carol')
        carol.leave(ROOM)
        r.attempt('carol left', carol.wait_event, 'left', room=ROOM, timeout=WAIT)
        for c in self.group(two):
            r.attempt('%s sees carol gone' % c.name, c.wait_members, ROOM, two, timeout=WAIT)
        r.check(True, 'alice and bob see carol gone')
        self.sessions_up(two, since, leaves_out='carol')
        after_carol = self.talk([('alice', 'carol has gone, just us now'),
                                 ('bob', 'carol must not read this')], two)
        before_dave += after_carol
        shown = [t for t in after_carol if any(t in (e.get('plain') or '')
                                               for e in carol.writes())]
        r.check(not shown, "carol's window shows nothing said after she left%s"
                % (': %s' % shown if shown else ''))

        r.section('dave signs on and joins; alice: /smmp add dave')
        last3 = ['alice', 'bob', 'dave']
        since = secured.marks(self.group(two))
        self.start_clients(['dave'])
        dave = self.c('dave')
        since['dave'] = dave.mark()
        self.join([dave], last3)
        told = r.attempt('alice is told dave is outside', self.c('alice').wait_write,
                         text=lambda p: p.startswith('SMMP: dave joined and is not in the '
                                                     'encrypted session'),
                         flags=['system'], since=since['alice'], timeout=WAIT)
        r.check(True, 'alice is told: %s' % told['plain'])
        since = secured.marks(self.group(last3))
        self.command(self.c('alice'), '/smmp add dave')
        self.sessions_up(last3, since)

        r.section('alice, bob and dave talk at once')
        self.talk([('alice', 'welcome dave'), ('bob', 'hello dave'),
                   ('dave', 'thanks, glad to be here'), ('dave', 'what did I miss?')], last3)
        shown = [t for t in before_dave if any(t in (e.get('plain') or '')
                                               for e in dave.writes())]
        r.check(not shown, "dave's window shows nothing said before he was added%s"
                % (': %s' % shown if shown else ''))


# -- what was shown, what was stored


def print_window(client):
    lines = client.writes()
    print('\n--- %s\'s window (%d lines)' % (client.name, len(lines)))
    for e in lines:
        rows = (e.get('plain') or '').splitlines() or ['']
        flags = e.get('flags', ())
        if 'system' in flags or 'error' in flags:
            head = '  *** '
        else:
            head = '  %s%s: ' % ('(history) ' if 'delayed' in flags else '', e.get('who'))
        print(head + rows[0])
        for row in rows[1:]:
            print('      ' + row)


def print_stored(bed, report, said, members):
    """The room's archive file as Prosody wrote it; every body must be
    armour, and no text typed may be anywhere in the file."""
    path = bed.prosody.muc_log_path(ROOM)
    print("\n--- what the server stored for the room (%s)" % path)
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        report.check(False, 'no room archive: %s' % e)
        return
    hint = secured.read_hint()
    stored = harness.stored_messages(harness.parse_prosody_list(data))
    print('  %s (%d bytes), one line per stored message:' % (os.path.basename(path), len(data)))
    armoured = 0
    for nick, body in stored:
        at = body.find(secured.TAG)
        shown = body[at:] if at >= 0 else body
        print('    %-6s %s%s' % (nick, shown[:64], '...' if len(shown) > 64 else ''))
        if nick in members and body.startswith(hint + ' ' + secured.TAG) and body.endswith('.'):
            armoured += 1
    print('    (each body reads "%s ?SMMP1:..."; shown from ?SMMP1: on)' % hint)
    text = data.decode('utf-8', 'replace')
    clear = []
    for t in said:
        # As typed, or as the XML of a stanza would carry it.
        escaped = t.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
        if t in text or escaped in text:
            clear.append(t)
            print('    IN CLEAR: "%s"' % t)
    report.check(stored and armoured == len(stored) and not clear,
                 '%s: %d message bodies, %d of them SMMP armour from members; %d of the %d '
                 'texts typed found in clear anywhere in the file'
                 % (os.path.basename(path), len(stored), armoured, len(clear), len(said)))


def finish(bed, demo, report):
    report.section("what each member's window showed")
    armour = 0
    for c in demo.clients.values():
        print_window(c)
        armour += sum(1 for e in c.writes() if secured.TAG in (e.get('plain') or '')
                      or secured.TAG in (e.get('text') or ''))
    print()
    report.check(armour == 0, 'no window showed armour (%d lines did)' % armour)
    errors = ['%s: %s' % (c.name, e['plain']) for c in demo.clients.values()
              for e in c.writes() if 'error' in e['flags']]
    report.check(not errors, 'no window showed an error%s' % (': %s' % errors if errors else ''))
    print_stored(bed, report, demo.said, demo.clients.keys())

    report.section('the clients quit')
    for c in demo.clients.values():
        running = c.running()
        rc = c.quit()
        report.check(running and rc == 0, '%s: %s, exit status %s'
                     % (c.name, 'was running' if running else 'HAD EXITED', rc))


def main():
    report = Report()
    with harness.Bed('smmp-demo', start=False) as bed:
        try:
            bed.start()
        except harness.BedError as e:
            print('demo: %s' % e, file=sys.stderr)
            return 2
        proc = bed.prosody.proc
        print('== a private Prosody in %s' % bed.prosody.dir)
        report.check(True, 'prosody pid %d listening on 127.0.0.1:%d'
                     % (proc.pid, bed.prosody.port))
        bed.register('alice', 'bob', 'carol', 'dave')
        demo = Demo(bed, report)
        try:
            demo.run()
        except StepFailed as e:
            print('  (the scenario stops here: %s)' % e, flush=True)
            report.failures = max(report.failures, 1)
        except Exception:  # a fault of the demo itself: still report and clean up
            traceback.print_exc()
            report.check(False, 'the demo itself failed (traceback above)')
        finally:
            finish(bed, demo, report)
            report.section('stopping prosody (pid %d)' % proc.pid)
            status = bed.prosody.stop()
            try:
                os.kill(proc.pid, 0)
                gone = False
            except ProcessLookupError:
                gone = True
            report.check(status == 0 and gone, 'prosody exited with status %s%s'
                         % (status, '' if gone else ', BUT ITS PID STILL EXISTS'))
    if report.failures == 0:
        print('demo: every step went as it should')
        return 0
    print('demo: SOME STEPS FAILED (marked FAILED above)')
    print('demo: %d step(s) failed' % report.failures)
    return 1


if __name__ == '__main__':
    sys.exit(main())
