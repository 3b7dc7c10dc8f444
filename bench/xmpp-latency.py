#!/usr/bin/python3
"""xmpp-latency: what the plugin adds to a room as people feel it, over a
real server: the private Prosody of tests/xmpp and headless libpurple
clients (smmp-client) with smmp.so loaded.

    xmpp-latency.py [--json] [--members 5] [--messages 50] [--warmup 3]
                    [--sizes 3,5,10] [--reps 5] [--gap-ms 100] [--timeout 60]

1. Message latency.  --members clients join two rooms: in "secured" one of
   them runs /smmp start, in "plain" nobody does (the plugin is loaded
   there too and passes clear messages through).  Then, --messages times
   per room, one member types a 100-character text and every member's
   window shows it (the sender's own line comes with the room's
   reflection).  Senders rotate; the two rooms take turns, the first of
   each pair alternating, so the machine's moods hit both alike.  One
   message is under way at a time.  Latency is from the moment the line
   was written to the sender's input to the `write` event at each member
   (both CLOCK_MONOTONIC, in microseconds, on one machine).  Before each
   message the run pauses --gap-ms (100 ms): people do not type 25 lines a
   second, and without a pause the member who sent the previous line gets
   the next one about 40 ms late (Prosody writes with Nagle's algorithm on,
   and that member's system still holds back its acknowledgement of the
   reflection; see docs/PERFORMANCE.md).  --gap-ms 0 shows it.

2. Session up.  For each size in --sizes and each of --reps repetitions
   (sizes interleaved), that many members join a new room, one of them
   (rotating) types /smmp start, and the time until every member's window
   says "encrypted session up with ..." is taken.

Checks (outside the timings; any failure ends the run with status 1 and no
figures): every window shows every text exactly once, from its sender,
flagged send at the sender and recv elsewhere; nothing in the secured room
is shown as "[not encrypted]" or as armour; no window shows an error line;
the server's archive of the secured room holds frames and none of the
texts, that of the plain room every text; each session comes up with every
member listed.

Progress goes to standard error; standard output gets a table, or with
--json one JSON document.  bench/README.md explains each figure.
Environment as for tests/xmpp (SMMP_CLIENT, SMMP_PLUGIN_DIR, PROSODY,
PROSODYCTL; meson's benchmark sets them).
"""

import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.environ.get('SMMP_XMPP_SRCDIR', os.path.join(SRCDIR, 'tests', 'xmpp')))

import harness  # noqa: E402  (found through the path set above)

NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy',
         'ken', 'lena', 'mike', 'nina', 'olaf', 'pia']
SECURED = 'secured'
PLAIN = 'plain'
TEXT_CHARS = 100
UP_NOTICE = 'SMMP: encrypted session up with '


class Failed(Exception):
    """The plugin or the bed did something wrong: no figures."""


def progress(fmt, *args):
    print('xmpp-latency: ' + (fmt % args if args else fmt), file=sys.stderr, flush=True)


def text_for(mode, k):
    """A 100-character text, unique per room and message."""
    head = '%s message %03d ' % (mode, k)
    return head + ('x' * (TEXT_CHARS - len(head)))


def percentile(sorted_values, p):
    """Nearest rank: the smallest value with at least p% of them at or below."""
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(values):
    v = sorted(values)
    return {'n': len(v), 'median': statistics.median(v), 'p90': percentile(v, 90),
            'min': v[0], 'max': v[-1]}


def us_to_ms(us):
    return us / 1000.0


# ---------------------------------------------------------------------------
# The clients


def start_clients(bed, names, timeout):
    plugin_dir = os.environ.get('SMMP_PLUGIN_DIR',
                                os.path.join(SRCDIR, 'build', 'plugin'))
    if not os.path.exists(os.path.join(plugin_dir, 'smmp.so')):
        raise harness.BedError('no smmp.so in %s (set SMMP_PLUGIN_DIR)' % plugin_dir)
    bed.register(*names)
    clients = [bed.client(n, plugins=['core-smmp'], plugin_dir=plugin_dir) for n in names]
    for c in clients:
        c.wait_event('plugin-loaded', since=c.start_index, timeout=timeout, id='core-smmp')
        c.wait_signed_on(timeout=timeout)
    return clients


def join_all(clients, room, timeout):
    """Everyone joins at once; returns when every window lists everyone."""
    marks = {c.name: c.mark() for c in clients}
    for c in clients:
        c.send('join %s %s' % (harness.room_jid(room), c.user))
        c.current_room = harness.room_jid(room)
    for c in clients:
        c.wait_event('joined', since=marks[c.name], timeout=timeout, room=harness.room_jid(room))
    for c in clients:
        c.wait_members(room, [m.user for m in clients], timeout=timeout)


def use_room(client, room, timeout):
    """Make `room` the client's current room, and know it has done so."""
    client.send('room ' + harness.room_jid(room))
    client.current_room = harness.room_jid(room)
    client.ping(timeout=timeout)


def start_session(clients, initiator, room, timeout):
    """/smmp start by `initiator`; returns each member's time (µs after the
    command was written) until its window said the session is up."""
    conv = harness.room_jid(room)
    use_room(initiator, room, timeout)
    marks = {c.name: c.mark() for c in clients}
    t0 = time.monotonic()
    initiator.say('/smmp start')
    ev = initiator.wait_event('command', since=marks[initiator.name], timeout=timeout)
    if ev.get('status') != 'ok':
        raise Failed('%s: /smmp start in %s: %s' % (initiator.name, room, ev))
    t0_us = t0 * 1e6
    times = {}
    for c in clients:
        e = c.wait_write(text=lambda p: p.startswith(UP_NOTICE), flags=['system'], conv=conv,
                         since=marks[c.name], timeout=timeout)
        listed = e['plain'][len(UP_NOTICE):].split('. ', 1)[0].split(', ')
        if sorted(listed) != sorted(m.user for m in clients):
            raise Failed('%s: session in %s up with %s, not with all %d members'
                         % (c.name, room, listed, len(clients)))
        times[c.name] = e['t'] - t0_us
    return times


# ---------------------------------------------------------------------------
# 1. message latency


def one_message(clients, sender, room, text, timeout):
    """Sends `text` and waits until every window shows it.  Returns
    (latency µs per member name, µs until the sender's `sent` event)."""
    conv = harness.room_jid(room)
    use_room(sender, room, timeout)
    marks = {c.name: c.mark() for c in clients}
    t0 = time.monotonic()
    sender.say(text)
    t0_us = t0 * 1e6
    sent = sender.wait_event('sent', since=marks[sender.name], timeout=timeout, conv=conv)
    lat = {}
    for c in clients:
        e = c.wait_write(text=text, who=sender.user, conv=conv, since=marks[c.name],
                         timeout=timeout)
        want = 'send' if c is sender else 'recv'
        if want not in e['flags']:
            raise Failed('%s showed %r from %s without flag %s: %s'
                         % (c.name, text, sender.user, want, e['flags']))
        lat[c.name] = e['t'] - t0_us
    return lat, sent['t'] - t0_us


def save_yardstick(directory, size=2700):
    """One consistent file save as the plugin's store makes it (a new file
    written, synced, renamed over the old one), in µs: the disk's share of
    a secured message, measured beside it."""
    path = os.path.join(directory, 'yardstick.json')
    tmp = path + '.tmp'
    data = b'x' * size
    t0 = time.monotonic()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    return (time.monotonic() - t0) * 1e6


def check_rooms(bed, clients, texts, timeout):
    """What every window and the server hold, after the timed messages."""
    for room in (SECURED, PLAIN):
        conv = harness.room_jid(room)
        for c in clients:
            shown = c.writes(conv=conv)
            for e in shown:
                plain = e.get('plain') or ''
                if 'error' in e.get('flags', ()):
                    raise Failed('%s showed an error in %s: %r' % (c.name, room, plain))
                if room == SECURED and (plain.startswith('[not encrypted]')
                                        or '?SMMP1:' in plain):
                    raise Failed('%s showed in %s: %r' % (c.name, room, plain))
            for sender, text in texts[room]:
                n = c.count_writes(text, who=sender, conv=conv)
                if n != 1:
                    raise Failed('%s showed %r from %s %d times in %s'
                                 % (c.name, text, sender, n, room))
    # The archive is written as the room relays: all of it is in by now.
    stored = harness.stored_messages(bed.muc_log(SECURED))
    bodies = [b for _nick, b in stored]
    if not any('?SMMP1:' in b for b in bodies):
        raise Failed('the server archived no frames in %s' % SECURED)
    leaked = [t for _s, t in texts[SECURED] if any(t in b for b in bodies)]
    if leaked:
        raise Failed('the server archived %d texts of %s in clear, first %r'
                     % (len(leaked), SECURED, leaked[0]))
    plain_bodies = set(b for _nick, b in harness.stored_messages(bed.muc_log(PLAIN)))
    missing = [t for _s, t in texts[PLAIN] if t not in plain_bodies]
    if missing:
        raise Failed('%d texts of %s are not in the archive in clear, first %r'
                     % (len(missing), PLAIN, missing[0]))


def pause(gap_ms):
    # The load model, not a wait for anything: time between two lines
    # typed in a room.
    if gap_ms > 0:
        time.sleep(gap_ms / 1000.0)


def measure_latency(bed, clients, messages, warmup, gap_ms, timeout):
    progress('latency: %d members join %s and %s', len(clients), SECURED, PLAIN)
    join_all(clients, SECURED, timeout)
    join_all(clients, PLAIN, timeout)
    up = start_session(clients, clients[0], SECURED, timeout)
    progress('latency: session up in %s after %.0f ms', SECURED, us_to_ms(max(up.values())))

    texts = {SECURED: [], PLAIN: []}
    lat = {SECURED: [], PLAIN: []}
    last = {SECURED: [], PLAIN: []}
    own = {SECURED: [], PLAIN: []}
    send_call = {SECURED: [], PLAIN: []}
    saves = []
    n = len(clients)
    for k in range(warmup + messages):
        sender = clients[k % n]
        order = (SECURED, PLAIN) if k % 2 == 0 else (PLAIN, SECURED)
        for room in order:
            text = text_for(room, k)
            pause(gap_ms)
            per_member, sent_us = one_message(clients, sender, room, text, timeout)
            texts[room].append((sender.user, text))
            if k < warmup:
                continue
            lat[room] += per_member.values()
            last[room].append(max(per_member.values()))
            own[room].append(per_member[sender.name])
            send_call[room].append(sent_us)
        if k >= warmup:
            saves.append(save_yardstick(bed.dir))
        if (k + 1) % 10 == 0:
            progress('latency: %d of %d rounds', k + 1, warmup + messages)
    check_rooms(bed, clients, texts, timeout)

    out = {}
    for room in (SECURED, PLAIN):
        out[room] = {
            'each_member_ms': summary([us_to_ms(x) for x in lat[room]]),
            'last_member_ms': summary([us_to_ms(x) for x in last[room]]),
            'own_reflection_ms': summary([us_to_ms(x) for x in own[room]]),
            'send_call_ms': summary([us_to_ms(x) for x in send_call[room]]),
        }
    out['ratio'] = {
        'each_member_median': out[SECURED]['each_member_ms']['median']
        / out[PLAIN]['each_member_ms']['median'],
        'each_member_p90': out[SECURED]['each_member_ms']['p90']
        / out[PLAIN]['each_member_ms']['p90'],
        'last_member_median': out[SECURED]['last_member_ms']['median']
        / out[PLAIN]['last_member_ms']['median'],
    }
    out['file_save_ms'] = summary([us_to_ms(x) for x in saves])
    return out


# ---------------------------------------------------------------------------
# 2. session up


def measure_session_up(clients, sizes, reps, gap_ms, timeout):
    samples = {n: [] for n in sizes}
    for rep in range(reps):
        for n in sizes:
            members = clients[:n]
            initiator = members[rep % n]
            room = 'up-%d-%d' % (n, rep)
            join_all(members, room, timeout)
            pause(gap_ms)
            times = start_session(members, initiator, room, timeout)
            samples[n].append({'initiator': initiator.name,
                               'all_ms': us_to_ms(max(times.values())),
                               'first_ms': us_to_ms(min(times.values()))})
            progress('session up: %d members, repetition %d: %.0f ms', n, rep + 1,
                     samples[n][-1]['all_ms'])
    out = []
    for n in sizes:
        out.append({'members': n, 'reps': reps,
                    'all_up_ms': summary([s['all_ms'] for s in samples[n]]),
                    'first_up_ms': summary([s['first_ms'] for s in samples[n]]),
                    'samples': samples[n]})
    return out


# ---------------------------------------------------------------------------
# Output


def commit():
    try:
        head = subprocess.run(['git', '-C', SRCDIR, 'rev-parse', '--short', 'HEAD'],
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(['git', '-C', SRCDIR, 'status', '--porcelain',
                                '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ('+changes' if dirty.stdout.strip() else '')


def print_table(doc):
    lat = doc['latency']
    print('Message latency, %d members, %d messages per room, %g ms apart '
          '(line written -> window shows it)'
          % (doc['members'], doc['messages_per_mode'], doc['gap_ms']))
    print('%-40s %9s %9s %9s %9s' % ('ms', 'median', 'p90', 'max', 'samples'))
    rows = [('each member', 'each_member_ms'), ('last member of a message', 'last_member_ms'),
            ("sender's own reflection", 'own_reflection_ms'),
            ('sender: say -> sent', 'send_call_ms')]
    for room in (SECURED, PLAIN):
        for label, key in rows:
            s = lat[room][key]
            print('%-40s %9.2f %9.2f %9.2f %9d' % ('%s: %s' % (room, label), s['median'],
                                                  s['p90'], s['max'], s['n']))
    r = lat['ratio']
    print('secured/plain: each member median %.2f, p90 %.2f; last member median %.2f'
          % (r['each_member_median'], r['each_member_p90'], r['last_member_median']))
    s = lat['file_save_ms']
    print('one synced file save (yardstick): median %.2f ms, p90 %.2f, max %.2f'
          % (s['median'], s['p90'], s['max']))
    print()
    print('Session up (/smmp start written -> every member shows it)')
    print('%-8s %6s %12s %12s %14s' % ('members', 'reps', 'median ms', 'max ms',
                                        'first median'))
    for row in doc['session_up']:
        print('%-8d %6d %12.0f %12.0f %14.0f' % (row['members'], row['reps'],
                                                 row['all_up_ms']['median'],
                                                 row['all_up_ms']['max'],
                                                 row['first_up_ms']['median']))
    print()
    print('commit %s, %s, %d CPUs online' % (doc['commit'], doc['date'], doc['cpus']))


def parse_args(argv):
    p = argparse.ArgumentParser(description='Latency and session-up time over a private '
                                'Prosody, with and without the session.')
    p.add_argument('--json', action='store_true', help='one JSON document on stdout')
    p.add_argument('--members', type=int, default=5, help='members for the latency (2-16)')
    p.add_argument('--messages', type=int, default=50, help='timed messages per room')
    p.add_argument('--warmup', type=int, default=3, help='untimed messages per room first')
    p.add_argument('--sizes', default='3,5,10', help='group sizes for session up (2-16)')
    p.add_argument('--reps', type=int, default=5, help='repetitions of each session up')
    p.add_argument('--gap-ms', type=float, default=100.0,
                   help='pause before each message and each /smmp start, ms')
    p.add_argument('--timeout', type=float, default=60.0, help='longest wait for one event, s')
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(',') if s]
    except ValueError:
        p.error('--sizes: numbers separated by commas')
    if not 2 <= args.members <= len(NAMES) or not args.sizes \
            or any(not 2 <= n <= len(NAMES) for n in args.sizes):
        p.error('group sizes go from 2 to %d' % len(NAMES))
    if args.messages < 1 or args.warmup < 0 or args.reps < 1 or args.timeout <= 0 \
            or args.gap_ms < 0:
        p.error('--messages, --reps and --timeout must be positive')
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    doc = {'commit': commit(),
           'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
           'cpus': os.cpu_count(), 'members': args.members,
           'messages_per_mode': args.messages, 'warmup_per_mode': args.warmup,
           'gap_ms': args.gap_ms,
           'text_chars': TEXT_CHARS}
    try:
        with harness.Bed('smmp-xmpp-latency') as bed:
            n_clients = max([args.members] + args.sizes)
            progress('starting Prosody and %d clients with the plugin', n_clients)
            clients = start_clients(bed, NAMES[:n_clients], args.timeout)
            doc['latency'] = measure_latency(bed, clients[:args.members], args.messages,
                                             args.warmup, args.gap_ms, args.timeout)
            doc['session_up'] = measure_session_up(clients, args.sizes, args.reps,
                                                   args.gap_ms, args.timeout)
    except (Failed, harness.BedError, AssertionError) as e:
        print('xmpp-latency: FAILED: %s' % e, file=sys.stderr)
        return 1
    doc['seconds'] = round(time.monotonic() - started, 1)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        print_table(doc)
    progress('done in %.0f s', doc['seconds'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
