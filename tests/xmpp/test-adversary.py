#!/usr/bin/python3
"""test-adversary.py: a secured room under attack from an occupant, and the
hint that occupants without the plugin see.

A private Prosody; alice, bob and carol (smmp-client with core-smmp) join
a room with dave (smmp-client without plugins) and alice starts a session
with bob and carol.  mallory, a raw slixmpp client in the same room, then
sends one at a time: armour around random bytes, armour around text that
is not base64, truncated armour, an exact copy of a DATA frame alice sent,
a DATA frame of bob's, and a frame of alice's that claims bob as its
sender.  For each, every plugin client shows exactly one notice, an error
naming mallory, and nothing else: no message line, no armour; all keep
answering.  Then bob's message still reaches alice and carol decrypted.

A room stamps every message with its sender's nickname, so "forged with
another member's nick" means, in a room: a member's real frame re-sent
(the room names mallory, the frame's signature names bob); a frame whose
sender field names bob but whose signature is not bob's; and taking a
member's nickname, which the room refuses while the member is there and
allows after the member left.  The last case: carol leaves, the others
re-key without her, and mallory, now called carol, sends carol's old
frame; the notice must say who is behind the nickname.

Meanwhile dave and mallory, who have no plugin, must see every secured
message as the readable hint (what it is and how to get the plugin), and
none of the typed texts.  Prints TAP.

By hand (after building):
    SMMP_CLIENT=build/tests/xmpp/smmp-client SMMP_PLUGIN_DIR=build/plugin \\
        /usr/bin/python3 tests/xmpp/test-adversary.py
"""

import base64
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import secured  # noqa: E402

ROOM = harness.room_jid('secured')
MEMBERS = ['alice', 'bob', 'carol']
PLAIN = 'dave'
RAW = 'mallory'
RAW_JID = '%s@%s' % (RAW, harness.DOMAIN)
TAG = secured.TAG
DATA, RESYNC = 0x10, 0x11
# Frame types the protocol defines (PROTOCOL.md 4.2); others are unknown.
KNOWN_TYPES = set(range(0x01, 0x08)) | {DATA, RESYNC, 0x12}
SID = slice(2, 18)
SENDER_INDEX = 18

TEXTS = {u: ['%s says the secret word is %s-%s' % (u, u, w) for w in ('kiwi', 'plum')]
         for u in MEMBERS}
AFTER_ATTACKS = 'bob: still talking after the attacks'
AFTER_TAKEOVER = 'bob: still talking after the nick takeover'


def armour(hint, frame):
    return '%s %s%s.' % (hint, TAG, base64.b64encode(frame).decode('ascii'))


def unarmour(body):
    """The frame in an armoured body, or None."""
    if body is None or TAG not in body:
        return None
    b64 = body.split(TAG, 1)[1].strip()
    assert b64.endswith('.'), body
    return base64.b64decode(b64[:-1], validate=True)


def typed_texts():
    return [t for ts in TEXTS.values() for t in ts] + [AFTER_ATTACKS, AFTER_TAKEOVER]


def main():
    tap = harness.Tap(17)
    state = {'barriers': 0}
    hint = secured.read_hint()
    with harness.Bed('smmp-adversary', start=False) as bed:
        diag = bed.diagnostics
        plugin_dir = os.environ.get('SMMP_PLUGIN_DIR') or os.path.join(
            harness.HERE, '..', '..', 'build', 'plugin')

        def members():
            return [state[u] for u in MEMBERS]

        def in_room():
            # Plugin clients still in the room.
            return [state[u] for u in state['present']]

        def start():
            bed.start()
            tap.diag('prosody on 127.0.0.1:%d, dir %s' % (bed.prosody.port, bed.dir))
            bed.register(*MEMBERS, PLAIN, RAW)
            for c in bed.start_clients(MEMBERS, plugins=['core-smmp'], plugin_dir=plugin_dir):
                state[c.user] = c
                c.wait_event('plugin-loaded', id='core-smmp', since=c.start_index)
            state[PLAIN] = dave = bed.start_clients([PLAIN])[0]
            assert not [e for e in dave.events if e['ev'] == 'plugin-loaded']
            state['present'] = list(MEMBERS)

        def join():
            everyone = members() + [state[PLAIN]]
            for c in everyone:
                c.join(ROOM, wait=False)
            for c in everyone:
                c.wait_event('joined', room=ROOM)
            for c in everyone:
                c.wait_members(ROOM, MEMBERS + [PLAIN])

        def session_up():
            alice = state['alice']
            marks = {c.name: c.mark() for c in members()}
            # Everyone in the room running SMMP: dave (no plugin) is
            # invited too, never answers, and is left outside once the
            # answer deadline passes.
            alice.say('/smmp start')
            for c in members():
                e = c.wait_write(text=lambda p: p.startswith('SMMP: encrypted session up with'),
                                 flags=['system'], since=marks[c.name], timeout=120)
                tap.diag('%s: %s' % (c.name, e['plain']))
                assert sorted(secured.up_members(e['plain'])) == sorted(MEMBERS), e
            alice.wait_write(text=lambda p: p.startswith('SMMP: key agreement with ')
                             and p.endswith('no answer (outside the session): dave'),
                             flags=['system'], since=marks['alice'])

        def raw_joins():
            marks = {c.name: c.mark() for c in members()}
            state['raw'] = raw = bed.raw_client(RAW)
            raw.join(ROOM, RAW)
            for c in members():
                c.wait_members(ROOM, MEMBERS + [PLAIN, RAW])
                # The plugin says mallory is outside the session.
                c.wait_write(text=lambda p: p.startswith('SMMP: %s joined and is not in the '
                                                         'encrypted session' % RAW),
                             flags=['system'], since=marks[c.name])

        def talk():
            # One at a time, so that no frame is overtaken (and sent again):
            # the frames captured below are the ones everyone applied.
            for rnd in range(2):
                for u in MEMBERS:
                    marks = {c.name: c.mark() for c in members()}
                    text = TEXTS[u][rnd]
                    state[u].say(text)
                    for c in members():
                        e = c.wait_write(text=text, who=u, since=marks[c.name])
                        want = 'send' if c.user == u else 'recv'
                        assert want in e['flags'] and 'system' not in e['flags'], (c.name, e)
            # What mallory captured: each member's DATA frames, live.
            raw = state['raw']
            frames = {}
            for m in raw.messages:
                frame = unarmour(m['body'])
                if frame is not None and not m['delayed'] and frame[1] == DATA:
                    frames.setdefault(m['nick'], []).append(frame)
            for u in MEMBERS:
                assert len(frames.get(u, [])) == 2, 'DATA frames captured: %s' % {
                    k: len(v) for k, v in frames.items()}
            state['frames'] = frames

        def hint_shown():
            """dave (no plugin) and mallory (raw) see the hint, never a text."""
            dave = state[PLAIN]
            assert 'Pidgin' in hint and 'plugin' in hint and 'SMMP' in hint, hint
            lines = [e for e in dave.writes(conv=ROOM) if e['who'] in MEMBERS]
            # Every secured message (agreement and talk) reached dave as text
            # that begins with the hint and carries the armour after it.
            assert len(lines) >= 6, lines
            for e in lines:
                assert e['plain'].startswith(hint + ' ' + TAG), e
                assert 'system' not in e['flags'], e
            for t in typed_texts():
                assert not [e for e in dave.writes() if t in (e.get('plain') or '')
                            or t in (e.get('text') or '')], (PLAIN, t)
            raw_bodies = [m['body'] for m in state['raw'].messages
                          if m['nick'] in MEMBERS and m['body'] is not None]
            assert len(raw_bodies) == 6, raw_bodies
            for b in raw_bodies:
                assert b.startswith(hint + ' ' + TAG), b
            tap.diag('dave saw %d lines from members, each beginning: %s'
                     % (len(lines), hint))

        def barrier(targets, marks, raw_body):
            """Returns once every target has handled mallory's `raw_body`:
            the room reflected it to mallory before dave spoke, and each
            stream keeps the room's order, so dave's line comes after it."""
            raw = state['raw2'] if state.get('as_carol') else state['raw']
            raw.wait_message(lambda m: m['body'] == raw_body and m['nick'] == state['raw_nick'],
                             since=state['raw_mark'])
            state['barriers'] += 1
            word = 'barrier %d' % state['barriers']
            state[PLAIN].say(word)
            for c in targets:
                c.wait_write(text='[not encrypted] ' + word, who=PLAIN, since=marks[c.name])
                c.ping()
            return word

        def attack(body, keywords, names=(RAW, RAW_JID), targets=None, notices_wanted=1):
            """mallory sends `body`; each target shows exactly one notice,
            an error that names `names` and says one of `keywords` (or, with
            notices_wanted=0, nothing at all)."""
            targets = targets or in_room()
            raw = state['raw2'] if state.get('as_carol') else state['raw']
            marks = {c.name: c.mark() for c in targets}
            with raw.cond:
                state['raw_mark'] = len(raw.messages)
            raw.send_body(ROOM, body)
            word = barrier(targets, marks, body)
            for c in targets:
                lines = [e for e in c.writes(since=marks[c.name])]
                notices = [e for e in lines if e['plain'].startswith('SMMP: ')]
                others = [e for e in lines if not e['plain'].startswith('SMMP: ')
                          and e['plain'] != '[not encrypted] ' + word]
                assert len(notices) == notices_wanted, '%s showed %d notices: %s' % (
                    c.name, len(notices), [e['plain'] for e in notices])
                assert not others, '%s showed more: %s' % (c.name, others)
                if not notices_wanted:
                    continue
                n = notices[0]
                assert {'system', 'error'} <= set(n['flags']), (c.name, n)
                for name in names:
                    assert name in n['plain'], '%s: notice does not name %s: %s' % (
                        c.name, name, n['plain'])
                assert any(k in n['plain'] for k in keywords), (
                    '%s: notice says none of %s: %s' % (c.name, keywords, n['plain']))
                assert TAG not in n['plain'], (c.name, n)
                if c is targets[0]:
                    tap.diag('%s: %s' % (c.name, n['plain']))

        def garbage_random():
            # Random bytes behind a valid version byte, with a type that no
            # frame has: nothing can parse them.
            rnd = bytearray(os.urandom(300))
            rnd[0] = 0x01
            while rnd[1] in KNOWN_TYPES:
                rnd[1] = os.urandom(1)[0]
            tap.diag('random frame: %s' % bytes(rnd).hex())
            attack(armour(hint, bytes(rnd)), ['malformed', 'frame type', 'unknown'])

        def garbage_data():
            # Random bytes shaped as a DATA frame for this group (right
            # member count, a valid sender index): it decodes, and its
            # random session id is not the session's.
            rnd = bytearray(os.urandom(len(state['frames']['alice'][0])))
            rnd[0], rnd[1] = 0x01, DATA
            real = state['frames']['alice'][0]
            rnd[SENDER_INDEX] = real[SENDER_INDEX]
            rnd[SENDER_INDEX + 1] = real[SENDER_INDEX + 1]
            assert bytes(rnd[SID]) != real[SID]
            attack(armour(hint, bytes(rnd)), ['another session'])

        def garbage_text():
            # The tag and full stop around text outside base64's alphabet.
            junk = ''.join('!#%&*-_~'[b % 8] for b in os.urandom(60))
            attack('%s %s%s.' % (hint, TAG, junk), ['base64'])

        def truncated_open():
            # A real frame with its tail (and the closing full stop) cut.
            full = armour(hint, state['frames']['bob'][0])
            attack(full[:len(full) * 2 // 3], ['truncated', 'full stop'])

        def truncated_closed():
            # A real frame cut short and closed again: valid base64 of a
            # frame that ends too soon.
            frame = state['frames']['carol'][0]
            attack(armour(hint, frame[:len(frame) // 2]), ['malformed', 'missing', 'short'])

        def replay():
            # An exact copy of a DATA frame alice sent (and everyone applied).
            body = armour(hint, state['frames']['alice'][-1])
            attack(body, ['replay'])
            # The very same notice again would only fill the window: the
            # plugin holds it back until the next session.
            attack(body, [], notices_wanted=0)

        def bobs_frame():
            # bob's own frame, re-sent by mallory: signed by bob, posted by
            # mallory.  Already applied: a replay; never shown again.
            attack(armour(hint, state['frames']['bob'][-1]), ['replay'])

        def claims_bob():
            # alice's frame with its sender field naming bob: the signature
            # is not bob's.
            alice_f = bytearray(state['frames']['alice'][-1])
            bob_index = state['frames']['bob'][-1][SENDER_INDEX]
            assert alice_f[SENDER_INDEX] != bob_index
            alice_f[SENDER_INDEX] = bob_index
            attack(armour(hint, bytes(alice_f)), ['not signed', 'forged'])

        def still_talking():
            marks = {c.name: c.mark() for c in members()}
            state['bob'].say(AFTER_ATTACKS)
            for c in members():
                e = c.wait_write(text=AFTER_ATTACKS, who='bob', since=marks[c.name])
                want = 'send' if c.user == 'bob' else 'recv'
                assert want in e['flags'], (c.name, e)
            # Every client is alive and answers.
            for c in members() + [state[PLAIN]]:
                c.ping()

        def nick_refused():
            # While bob is in the room, nobody else can be called bob.
            raw2 = state['raw2'] = bed.raw_client(RAW, resource='second')
            try:
                raw2.join(ROOM, 'bob')
            except harness.BedError as e:
                assert 'conflict' in str(e), e
            else:
                raise AssertionError('the room let mallory take the nick bob')
            for c in members():
                c.ping()
                assert c.members(ROOM) == set(MEMBERS + [PLAIN, RAW]), c.members(ROOM)

        def carol_leaves():
            alice, bob, carol = members()
            marks = {c.name: c.mark() for c in (alice, bob)}
            carol.leave(ROOM)
            carol.wait_event('left', room=ROOM)
            state['present'] = ['alice', 'bob']
            # R10: the others re-key without her.
            for c in (alice, bob):
                c.wait_write(text=lambda p: p.startswith('SMMP: encrypted session up with'),
                             flags=['system'], since=marks[c.name])

        def takeover():
            alice, bob = state['alice'], state['bob']
            marks = {c.name: c.mark() for c in (alice, bob)}
            raw2 = state['raw2']
            raw2.join(ROOM, 'carol')
            state['as_carol'] = True
            state['raw_nick'] = 'carol'
            for c in (alice, bob):
                c.wait_members(ROOM, ['alice', 'bob', PLAIN, RAW, 'carol'])
                c.wait_write(text=lambda p: p.startswith('SMMP: carol joined and is not in'),
                             flags=['system'], since=marks[c.name])
            # carol's real frame of the old session, from the nick carol.
            attack(armour(hint, state['frames']['carol'][-1]), ['another session'],
                   names=('carol', RAW_JID))

        def still_talking_after():
            alice, bob = state['alice'], state['bob']
            marks = {c.name: c.mark() for c in (alice, bob)}
            bob.say(AFTER_TAKEOVER)
            for c in (alice, bob):
                c.wait_write(text=AFTER_TAKEOVER, who='bob', since=marks[c.name])

        def nothing_fake():
            texts = typed_texts()
            for c in members():
                for e in c.writes():
                    plain = e.get('plain') or ''
                    assert TAG not in plain and TAG not in (e.get('text') or ''), (c.name, e)
                    if 'system' in e['flags']:
                        continue
                    # Message lines: the members' texts, dave's marked lines.
                    if e['who'] == PLAIN:
                        assert plain.startswith('[not encrypted] '), (c.name, e)
                    else:
                        assert e['who'] in MEMBERS and plain in texts, (c.name, e)
            for c in members() + [state[PLAIN]]:
                assert c.running(), '%s exited\n%s' % (c.name, c.diagnostics())
            dave = state[PLAIN]
            for e in dave.writes():
                for t in texts:
                    assert t not in (e.get('plain') or ''), (PLAIN, e)
            for m in state['raw'].messages + state['raw2'].messages:
                for t in texts:
                    assert t not in (m['body'] or ''), m
            # What the server stored: armour only.
            stored = harness.stored_messages(bed.muc_log(ROOM))
            for nick, body in stored:
                for t in texts:
                    assert t not in body, (nick, body)
            members_stored = [b for n, b in stored if n in MEMBERS]
            assert members_stored and all(b.startswith(hint + ' ' + TAG)
                                          for b in members_stored)

        state['raw_nick'] = RAW
        tap.run('prosody; alice, bob, carol with core-smmp, dave without plugins', start,
                diagnostics=diag)
        tap.run('all four join the room', join, diagnostics=diag)
        tap.run('/smmp start with dave (no plugin) in the room: the session is up at all '
                'three, dave left outside', session_up,
                diagnostics=diag)
        tap.run('mallory (raw) joins; the members are told she is outside', raw_joins,
                diagnostics=diag)
        tap.run('each member talks; mallory captures their DATA frames', talk,
                diagnostics=diag)
        tap.run('dave and mallory see the hint, not the texts', hint_shown, diagnostics=diag)
        tap.run('armour around random bytes: one notice naming mallory', garbage_random,
                diagnostics=diag)
        tap.run('armour around random bytes shaped as DATA: one notice', garbage_data,
                diagnostics=diag)
        tap.run('armour around text that is not base64: one notice', garbage_text,
                diagnostics=diag)
        tap.run('truncated armour, no full stop: one notice', truncated_open,
                diagnostics=diag)
        tap.run('a frame cut short and closed again: one notice', truncated_closed,
                diagnostics=diag)
        tap.run("an exact replay of alice's DATA frame: one notice; again: none", replay,
                diagnostics=diag)
        tap.run("bob's DATA frame re-sent by mallory: one notice", bobs_frame,
                diagnostics=diag)
        tap.run("alice's frame claiming bob as its sender: one notice", claims_bob,
                diagnostics=diag)
        tap.run('after the attacks bob still reaches alice and carol; all answer ping',
                still_talking, diagnostics=diag)
        tap.run("the room refuses bob's nick to mallory while bob is there", nick_refused,
                diagnostics=diag)

        def takeover_all():
            carol_leaves()
            takeover()
            still_talking_after()
            nothing_fake()

        tap.run('carol leaves, the rest re-key; mallory as carol sends her old frame: one '
                'notice naming carol and mallory; bob still talks; nothing fake, no armour, '
                'no text at dave, mallory or the server', takeover_all, diagnostics=diag)
    return tap.done()


if __name__ == '__main__':
    sys.exit(main())
