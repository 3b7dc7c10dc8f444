#!/usr/bin/python3
"""test-secured-room.py: five members of a secured room type at once.

A private Prosody; alice, bob, carol, dave and erin (smmp-client with the
plugin core-smmp) join one room and alice types `/smmp start`; the session
comes up at all five with one verification code.  Then all five type two
messages each at the same moment.  The frames race in the room (one
frame in flight per member, stale ones sealed again), and still every
window must show every message exactly once, decrypted, from its sender,
and all five windows in the SAME order, none of them for the log (the
plugin's log_decrypted is off by default); no window ever shows armour.
The server's store (Prosody's archive file, and an XEP-0313 query by a
raw client) holds none of the typed texts: only armour.  Last, carol
types `/smmp end`: she is told she now types in clear, and her next line
shows at the others marked "[not encrypted]", at hers as typed.  Prints
TAP.

By hand (after building):
    SMMP_CLIENT=build/tests/xmpp/smmp-client SMMP_PLUGIN_DIR=build/plugin \\
        /usr/bin/python3 tests/xmpp/test-secured-room.py
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import secured  # noqa: E402

ROOM = harness.room_jid('five')
USERS = ['alice', 'bob', 'carol', 'dave', 'erin']
RAW = 'mallory'

# Markup characters must come through as text.
TEXTS = {u: ['%s at once, one: 1 < 2 & <b>not bold</b> %s' % (u, os.urandom(4).hex()),
             '%s at once, two %s' % (u, os.urandom(4).hex())] for u in USERS}
ALL_TEXTS = [(u, t) for u in USERS for t in TEXTS[u]]
BARRIER = 'alice: the last word %s' % os.urandom(4).hex()


def main():
    tap = harness.Tap(9)
    state = {}
    hint = secured.read_hint()
    with harness.Bed('smmp-secured-room', start=False) as bed:
        diag = bed.diagnostics

        def clients():
            return state['clients']

        def start():
            bed.start()
            tap.diag('prosody on 127.0.0.1:%d, dir %s' % (bed.prosody.port, bed.dir))
            bed.register(*USERS, RAW)
            state['clients'] = secured.start_clients(bed, USERS)

        def join():
            for c in clients():
                c.join(ROOM, wait=False)
            for c in clients():
                c.wait_event('joined', room=ROOM)
            for c in clients():
                c.wait_members(ROOM, USERS)

        def session_up():
            alice = clients()[0]
            since = secured.marks(clients())
            alice.say('/smmp start')
            code = secured.wait_up(clients(), since, USERS)
            tap.diag('verification code at all five: %s' % code)
            for c in clients():
                members, text = secured.status(c, ROOM)
                assert sorted(members) == sorted(USERS), (c.name, text)

        def talk():
            since = state['since'] = secured.marks(clients())
            for c in clients():
                for t in TEXTS[c.user]:
                    c.say(t)
            for c in clients():
                for u, t in ALL_TEXTS:
                    c.wait_write(text=t, who=u, since=since[c.name], timeout=120)

        def one_order():
            since = state['since']
            alice = clients()[0]
            alice.say(BARRIER)
            for c in clients():
                c.wait_write(text=BARRIER, who='alice', since=since[c.name])
            orders = {}
            for c in clients():
                c.ping()
                orders[c.name] = [(e['who'], e['plain'])
                                  for e in secured.message_lines(c, ROOM, since[c.name])]
            first = orders[USERS[0]]
            assert sorted(first) == sorted(ALL_TEXTS + [('alice', BARRIER)]), first
            assert first[-1] == ('alice', BARRIER), first
            for name, order in orders.items():
                assert order == first, 'order at %s:\n%s\norder at %s:\n%s' % (
                    USERS[0], first, name, order)
            secured.assert_decrypted_once(clients(), ROOM, ALL_TEXTS + [('alice', BARRIER)],
                                          since)
            # Decrypted lines stay out of libpurple's logs unless asked.
            for c in clients():
                logged = [e for e in secured.message_lines(c, ROOM, since[c.name])
                          if 'no-log' not in e['flags']]
                assert not logged, '%s: decrypted lines for the log: %s' % (c.name, logged)
            tap.diag('room order: %s' % ', '.join('%s#%d' % (u, TEXTS[u].index(t) + 1)
                                                   for u, t in first[:-1]))

        def no_armour():
            for c in clients():
                secured.assert_no_armour(c)
                assert c.running(), c.diagnostics()
            # No text left in clear: the room carried only frames.
            for c in clients():
                errors = [e for e in c.writes() if 'error' in e['flags']]
                assert not errors, '%s showed errors: %s' % (c.name, errors)

        def rename():
            # erin takes another nickname: the session knows her by the
            # old one (her handle) and every window follows her.
            erin = clients()[4]
            since = secured.marks(clients())
            erin.say('/nick erin2')
            ev = erin.wait_event('command', since=since[erin.name])
            assert ev['status'] == 'ok', ev
            for c in clients():
                c.wait_write(text='SMMP: erin (in the session as erin) is now called erin2',
                             flags=['system'], since=since[c.name])
            state['renamed'] = t = 'erin, renamed: %s' % os.urandom(4).hex()
            erin.say(t)
            for c in clients():
                c.wait_write(text=t, who='erin2', since=since[c.name])
            secured.assert_decrypted_once(clients()[:4], ROOM, [('erin2', t)], since)
            own = [e for e in secured.message_lines(erin, ROOM, since[erin.name])
                   if e['plain'] == t]
            assert len(own) == 1 and 'send' in own[0]['flags'], own
            for c in (clients()[0], erin):
                members, text = secured.status(c, ROOM)
                assert 'erin2 (as erin)' in members, (c.name, text)

        def archive():
            raw = bed.raw_client(RAW)
            texts = [t for _, t in ALL_TEXTS] + [BARRIER, state['renamed']]
            n = secured.assert_archive_armour_only(bed, raw, ROOM, texts, hint, USERS)
            tap.diag('the archive holds %d bodies, all armour' % n)

        def end_in_clear():
            # carol ends the session at her end: what she types now goes
            # in clear, and must not pass for protected at the others.
            carol = clients()[2]
            others = [c for c in clients() if c is not carol]
            since = secured.marks(clients())
            carol.say('/smmp end')
            ev = carol.wait_event('command', since=since[carol.name])
            assert ev['status'] == 'ok', ev
            carol.wait_write(text=lambda p: p.startswith('SMMP: encrypted session ended here')
                             and 'IN CLEAR' in p, flags=['system'], since=since[carol.name])
            word = 'carol, in clear: %s' % os.urandom(4).hex()
            carol.say(word)
            for c in others:
                c.wait_write(text='[not encrypted] ' + word, who='carol', flags=['recv'],
                             since=since[c.name])
            carol.wait_write(text=word, who='carol', flags=['send'], since=since[carol.name])
            carol.ping()
            marked = [e for e in carol.writes(since=since[carol.name])
                      if '[not encrypted]' in e['plain']]
            assert not marked, 'carol marks her own line: %s' % marked

        tap.run('prosody; five clients with core-smmp sign on', start, diagnostics=diag)
        tap.run('all five join one room', join, diagnostics=diag)
        tap.run('/smmp start: the session is up at all five, one code, /smmp status lists '
                'all five', session_up, diagnostics=diag)
        tap.run('two messages each, typed at once, reach every window', talk, diagnostics=diag)
        tap.run('every window shows each message once, decrypted, in one order, not for '
                'the log', one_order,
                diagnostics=diag)
        tap.run('no window shows armour or an error; all clients run', no_armour,
                diagnostics=diag)
        tap.run('erin changes her nickname: the session follows her', rename,
                diagnostics=diag)
        tap.run("the server's archive (file and XEP-0313) holds only armour", archive,
                diagnostics=diag)
        tap.run('/smmp end at carol: her next line is marked [not encrypted] at the others',
                end_in_clear, diagnostics=diag)
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
