#!/usr/bin/python3
"""test-plain-room.py: the test bed itself, with no plugin loaded.

A private Prosody; alice, bob and carol (smmp-client, libpurple) join one
room and each types two messages at the same moment; every window must
show all six exactly once, in one order (own ones by the room's
reflection), with the flags Pidgin would get; the server's archive (file
and XEP-0313) must hold them in that order; a raw slixmpp client joins
and talks; libpurple's slash commands work through `say`; everything
stops cleanly.  Prints TAP.

By hand (after building):
    SMMP_CLIENT=build/tests/xmpp/smmp-client /usr/bin/python3 tests/xmpp/test-plain-room.py
"""

import importlib.util
import os
import sys

# No __pycache__ in the source tree when run by hand.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROOM = harness.room_jid('plain')
USERS = ['alice', 'bob', 'carol']
RAW = 'mallory'

# Markup characters in what people type must arrive as text, not markup.
TEXTS = {u: ['%s: one, 1 < 2 & <b>not bold</b>' % u, '%s: two' % u] for u in USERS}
ALL_TEXTS = [(u, t) for u in USERS for t in TEXTS[u]]
BARRIER = 'alice: end of round'
RAW_TEXT = 'raw: <hello> & goodbye'


def html(text):
    # What libpurple hands the UI for a plain-text body.
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def main():
    have_slixmpp = importlib.util.find_spec('slixmpp') is not None

    tap = harness.Tap(12)
    state = {}
    with harness.Bed('smmp-plain-room', start=False) as bed:
        diag = bed.diagnostics

        def start_prosody():
            bed.start()
            tap.diag('prosody on 127.0.0.1:%d, dir %s' % (bed.prosody.port, bed.dir))

        def register():
            bed.register(*USERS, RAW)

        def sign_on():
            state['clients'] = clients = bed.start_clients(USERS)
            for c in clients:
                loaded = [e for e in c.events if e['ev'] == 'plugin-loaded']
                assert not loaded, '%s loaded plugins: %s' % (c.name, loaded)

        def join():
            clients = state['clients']
            # All at once: the first presence creates the room (and answers
            # libpurple's "Create New Room" question), the others race it.
            for c in clients:
                c.join(ROOM, wait=False)
            for c in clients:
                ev = c.wait_event('joined', room=ROOM)
                assert ev['nick'] == c.user, ev
            for c in clients:
                c.wait_members(ROOM, USERS)
            # Non-anonymous room: every window knows every occupant's JID.
            for c in clients:
                for u in USERS:
                    ev = c.wait_event('occupant-join', room=ROOM, nick=u)
                    assert (ev['jid'] or '').startswith(u + '@localhost'), ev

        def talk():
            clients = state['clients']
            state['mark'] = {c.name: c.mark() for c in clients}
            for c in clients:
                for t in TEXTS[c.user]:
                    c.say(t)
            for c in clients:
                for u, t in ALL_TEXTS:
                    c.wait_write(text=t, who=u, since=state['mark'][c.name])

        def lines(c):
            # Message lines (not system lines) shown since the talk began.
            return [e for e in c.writes(since=state['mark'][c.name], conv=ROOM)
                    if 'system' not in e['flags'] and e['plain'] != '']

        def flags_and_order():
            orders = {}
            for c in state['clients']:
                shown = [e for e in lines(c) if (e['who'], e['plain']) in ALL_TEXTS]
                for e in shown:
                    own = e['who'] == c.user
                    want = 'send' if own else 'recv'
                    assert want in e['flags'] and ('recv' in e['flags']) != own, (c.name, e)
                    assert 'delayed' not in e['flags'], (c.name, e)
                    assert e['text'] == html(e['plain']), (c.name, e)
                orders[c.name] = [(e['who'], e['plain']) for e in shown]
            first = orders[USERS[0]]
            for name, order in orders.items():
                assert order == first, 'order at %s: %s\norder at %s: %s' % (
                    USERS[0], first, name, order)
            state['order'] = first
            tap.diag('room order: %s' % ', '.join('%s#%d' % (u, TEXTS[u].index(t) + 1)
                                                   for u, t in first))

        def exactly_once():
            clients = state['clients']
            alice = clients[0]
            # The room delivers in one order on each stream: once the
            # barrier is shown, any duplicate of an earlier line would
            # have been shown before it.
            alice.say(BARRIER)
            for c in clients:
                c.wait_write(text=BARRIER, who='alice', since=state['mark'][c.name])
            for c in clients:
                got = [(e['who'], e['plain']) for e in lines(c)]
                want = state['order'] + [('alice', BARRIER)]
                assert got == want, '%s showed:\n%s\nexpected:\n%s' % (c.name, got, want)

        def raw_client():
            clients = state['clients']
            raw = state['raw'] = bed.raw_client(RAW)
            marks = {c.name: c.mark() for c in clients}
            raw.join(ROOM, RAW)
            for c in clients:
                c.wait_members(ROOM, USERS + [RAW])
                # In a non-anonymous room libpurple adds the real JID:
                # "mallory [mallory@localhost/raw] entered the room."
                c.wait_write(text=lambda p: p.startswith(RAW + ' ')
                             and p.endswith(' entered the room.'),
                             flags=['system'], since=marks[c.name])
            raw.send_body(ROOM, RAW_TEXT)
            raw.wait_message(lambda m: m['nick'] == RAW and m['body'] == RAW_TEXT)
            for c in clients:
                e = c.wait_write(text=RAW_TEXT, who=RAW, since=marks[c.name])
                assert 'recv' in e['flags'] and e['text'] == html(RAW_TEXT), e
            # What the raw client got from the others, live: nothing yet.
            assert not [m for m in raw.messages if m['body'] and m['nick'] in USERS]

        def expected_archive():
            want = state['order'] + [('alice', BARRIER)]
            if 'raw' in state:
                want.append((RAW, RAW_TEXT))
            return want

        def archive_file():
            stored = harness.stored_messages(bed.muc_log(ROOM))
            want = expected_archive()
            assert stored == want, 'stored: %s\nexpected: %s' % (stored, want)
            tap.diag('%s holds %d messages' % (bed.prosody.muc_log_path(ROOM), len(stored)))

        def archive_mam():
            got = [(m['nick'], m['body']) for m in state['raw'].mam(ROOM, page=3)]
            want = expected_archive()
            assert got == want, 'MAM: %s\nexpected: %s' % (got, want)

        def commands():
            clients = state['clients']
            # Only the room's owner (whoever came first) may change the
            # subject; a refused subject change is not shown by libpurple
            # at all (an error without a body), so ask the owner.
            owner = [c for c in clients
                     if 'founder' in c.wait_event('occupant-join', room=ROOM, self=True)['flags']]
            assert len(owner) == 1, 'owners: %s' % [c.name for c in owner]
            owner = owner[0]
            marks = {c.name: c.mark() for c in clients}
            owner.say('/topic plain room topic')
            ev = owner.wait_event('command', since=marks[owner.name])
            assert ev['status'] == 'ok', ev
            for c in clients:
                c.wait_write(text='%s has set the topic to: plain room topic' % owner.user,
                             flags=['system'], since=marks[c.name])
            other = [c for c in clients if c is not owner][0]
            other.say('/no-such-command')
            other.wait_event('command', since=marks[other.name], status='not-found')
            other.wait_write(text='No such command.', flags=['no-log'], since=marks[other.name])

        def stop():
            pids = []
            for c in state['clients']:
                pids.append(c.proc.pid)
                rc = c.quit()
                assert rc == 0, '%s exited with %s\n%s' % (c.name, rc, c.diagnostics())
                c.wait_event('bye', since=c.start_index, timeout=0)
            if 'raw' in state:
                state['raw'].close()
            pids.append(bed.prosody.proc.pid)
            rc = bed.prosody.stop()
            assert rc == 0, 'prosody exited with %s' % rc
            for pid in pids:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    continue
                raise AssertionError('process %d still exists' % pid)

        tap.run('prosody starts on a free port of 127.0.0.1', start_prosody, diagnostics=diag)
        tap.run('prosodyctl registers the accounts', register, diagnostics=diag)
        tap.run('three clients without a plugin sign on', sign_on, diagnostics=diag)
        tap.run('all three join one room and list each other with real JIDs', join,
                diagnostics=diag)
        tap.run('two messages each, typed at once, reach every window', talk, diagnostics=diag)
        tap.run('one order everywhere; own lines flagged send, others recv; text escaped',
                flags_and_order, diagnostics=diag)
        tap.run('every window shows each message exactly once', exactly_once, diagnostics=diag)
        if have_slixmpp:
            tap.run('a raw slixmpp client joins; its message reaches every window', raw_client,
                    diagnostics=diag)
        else:
            tap.skip('a raw slixmpp client joins', 'slixmpp is not installed')
        tap.run("the server's archive file holds the messages in room order", archive_file,
                diagnostics=diag)
        if have_slixmpp and 'raw' in state:
            tap.run('an XEP-0313 query returns the same messages', archive_mam, diagnostics=diag)
        else:
            tap.skip('an XEP-0313 query', 'no raw client')
        tap.run('/topic and an unknown command go through libpurple', commands,
                diagnostics=diag)
        tap.run('clients quit (exit 0), prosody stops, nothing is left running', stop,
                diagnostics=diag)
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
