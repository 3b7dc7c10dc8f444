"""What the tests of secured rooms share: how the plugin (core-smmp) shows
a session on screen, and checks on what windows and the server hold.

A test imports this module next to `harness`.  The plugin's lines are
system lines beginning "SMMP: " (ui/smmp-ui.c); a decrypted message is an
ordinary line from its sender (flag `send` for one's own, `recv` for the
others'); armour is the hint of smmp-core/smmp-armour.h followed by the
tag and base64.
"""

import os
import re

import harness

TAG = '?SMMP1:'
UP = 'SMMP: encrypted session up with '
STATUS_UP = 'SMMP: encrypted session up: '
CAUGHT_UP = ('SMMP: caught up from the room', "SMMP: the room's archive could not close")


def plugin_dir():
    return os.environ.get('SMMP_PLUGIN_DIR') or os.path.join(
        harness.HERE, '..', '..', 'build', 'plugin')


def read_hint():
    """The hint as the core writes it (smmp-core/smmp-armour.h)."""
    header = os.path.join(harness.SRCDIR, '..', '..', 'smmp-core', 'smmp-armour.h')
    with open(header, encoding='utf-8') as f:
        text = f.read()
    m = re.search(r'#define SMMP_ARMOUR_HINT\s*\\?\s*"([^"]+)"', text)
    assert m, 'no SMMP_ARMOUR_HINT in %s' % header
    return m.group(1)


def start_bed(tap, bed, plugin_so, users):
    """Prosody up with @users registered, once the plugin is known built."""
    if not os.path.exists(plugin_so):
        raise harness.BedError('no plugin at %s (set SMMP_PLUGIN_DIR)' % plugin_so)
    bed.start()
    bed.register(*users)
    tap.diag('prosody on 127.0.0.1:%d, dir %s' % (bed.prosody.port, bed.dir))


def start_clients(bed, users):
    """Plugin clients, signed on, each having loaded core-smmp."""
    clients = bed.start_clients(users, plugins=['core-smmp'], plugin_dir=plugin_dir())
    for c in clients:
        c.wait_event('plugin-loaded', id='core-smmp', since=c.start_index)
    return clients


def marks(clients):
    return {c.name: c.mark() for c in clients}


def up_members(plain):
    """The members a "session up" line names, in index order."""
    assert plain.startswith(UP), plain
    names = plain[len(UP):].split('. Verification code: ', 1)[0]
    return [n.strip() for n in names.split(',')]


def up_code(plain):
    return plain.split('. Verification code: ', 1)[1].split(' (', 1)[0]


def wait_up(clients, since, members, timeout=None):
    """Every client shows a new session up with exactly `members` (in any
    order) and all show the same verification code.  Returns the code."""
    codes = set()
    for c in clients:
        e = c.wait_write(text=lambda p: p.startswith(UP), flags=['system'],
                         since=since[c.name], timeout=timeout)
        got = up_members(e['plain'])
        assert sorted(got) == sorted(members), '%s: session up with %s, expected %s' % (
            c.name, got, sorted(members))
        codes.add(up_code(e['plain']))
    assert len(codes) == 1, 'verification codes differ: %s' % codes
    return codes.pop()


def status(client, room):
    """`/smmp status` at `client`: (members listed, the whole text).
    Members are [] when no session is up."""
    since = client.mark()
    client.say('/smmp status')
    e = client.wait_write(text=lambda p: p.startswith(STATUS_UP)
                          or p.startswith('SMMP: no encrypted session'),
                          flags=['system'], conv=room, since=since)
    text = e['plain']
    members = []
    for line in text.splitlines():
        # "  0. alice  FPR...  [you]" (a renamed member: "nick (as handle)")
        m = re.match(r'\s+\d+\. (.+?)  ', line)
        if m:
            members.append(m.group(1))
    return members, text


def message_lines(client, room, since=0):
    """Lines that are messages (not system lines) shown since `since`."""
    return [e for e in client.writes(since=since, conv=room)
            if 'system' not in e['flags'] and e['plain'] != '']


def shown(client, room, text, since=0):
    """How many message lines show exactly `text`."""
    return sum(1 for e in message_lines(client, room, since) if e['plain'] == text)


def assert_decrypted_once(clients, room, sent, since):
    """Each (who, text) in `sent` is shown exactly once at every client, as
    a message from `who`: `send` at the sender, `recv` elsewhere."""
    for c in clients:
        for who, text in sent:
            lines = [e for e in message_lines(c, room, since[c.name]) if e['plain'] == text]
            assert len(lines) == 1, '%s shows %r %d times: %s' % (c.name, text, len(lines), lines)
            e = lines[0]
            assert e['who'] == who, (c.name, e)
            want = 'send' if c.user == who else 'recv'
            assert want in e['flags'], (c.name, e)


def assert_never_shown(client, texts, since=0):
    """None of `texts` appears in any line of `client`, whatever kind."""
    for e in client.writes(since=since):
        for t in texts:
            assert t not in (e.get('plain') or '') and t not in (e.get('text') or ''), (
                '%s shows %r: %s' % (client.name, t, e))


def assert_no_armour(client):
    """No line the client ever showed holds armour."""
    for e in client.writes():
        assert TAG not in (e.get('plain') or '') and TAG not in (e.get('text') or ''), (
            '%s shows armour: %s' % (client.name, e))


def assert_archive_armour_only(bed, raw, room, texts, hint, members):
    """The server's store (file and XEP-0313) holds none of `texts`, and
    every body a member posted there is armour.  Returns how many."""
    stored = harness.stored_messages(bed.muc_log(room))
    by_mam = [(m['nick'], m['body']) for m in raw.mam(room)]
    for where, msgs in (('archive file', stored), ('XEP-0313', by_mam)):
        assert msgs, '%s: empty' % where
        for nick, body in msgs:
            for t in texts:
                assert t not in body, '%s holds %r: %s' % (where, t, body)
            if nick in members:
                assert body.startswith(hint + ' ' + TAG) and body.endswith('.'), (
                    '%s: not armour from %s: %s' % (where, nick, body))
    assert len(stored) == len(by_mam), 'file %d, XEP-0313 %d' % (len(stored), len(by_mam))
    return len(stored)


def barrier(raw, raw_nick, clients, room, word):
    """Returns once every client has handled everything the room carried
    before now: a raw client says `word` in clear, and each stream keeps
    the room's order, so a client that shows it has seen all before it."""
    since = marks(clients)
    with raw.cond:
        raw_since = len(raw.messages)
    raw.send_body(room, word)
    raw.wait_message(lambda m: m['nick'] == raw_nick and m['body'] == word, since=raw_since)
    for c in clients:
        c.wait_write(text=lambda p: p.endswith(word), who=raw_nick, since=since[c.name])
        c.ping()
