#!/usr/bin/python3
"""test-finch.py: the plugin in real Finch, typed into and read off a
terminal.

A private Prosody; alice and bob (smmp-client, plugin loaded) are in a
room; Finch runs in a private tmux server with its own config dir (the
account, the room to join, and smmp.so in CFGDIR/plugins, loaded through
/finch/plugins/loaded) and joins as fiona.  Keys typed into Finch's room
window: `/smmp start` brings the session up at all three (same members,
same verification code); a message from Finch arrives decrypted at alice
and bob, theirs show up decrypted on Finch's screen; `/smmp status` lists
the three members with their real fingerprints; `/smmp msg` hands its text
over as typed.  No screen ever shows armour, the server stores nothing
else.  Finch is stopped by SIGTERM to its PID, the tmux server killed,
whatever happened before.  Prints TAP.

By hand (after building):
    SMMP_CLIENT=build/tests/xmpp/smmp-client SMMP_PLUGIN_DIR=build/plugin \\
        /usr/bin/python3 tests/xmpp/test-finch.py
Options: --finch and --tmux name the programs (default: from PATH).
SMMP_XMPP_FINCH_DEBUG=1 runs `finch --debug` (its log goes to
finch/finch.err, kept with SMMP_XMPP_KEEP=1).  Not for a plugin built with
a sanitizer: Finch has no runtime for it (see meson.build).
"""

import argparse
import atexit
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
from xml.sax.saxutils import quoteattr

# No __pycache__ in the source tree when run by hand.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import secured  # noqa: E402

ROOM_NODE = 'finchroom'
ROOM = harness.room_jid(ROOM_NODE)
HEADLESS = ['alice', 'bob']
FINCH_USER = 'fiona'
USERS = HEADLESS + [FINCH_USER]

# The terminal, fixed: wide enough that no line Finch writes here wraps
# (the longest, the session-up notice, is ~175 columns).
COLS, ROWS = 220, 60
# How long Finch may run at most, should the test be killed outright.
FINCH_LIFETIME = 900

ARMOUR_MARKS = ('?SMMP1:', '[SMMP encrypted message')

# Markup characters and non-ASCII text must cross as typed.
FINCH_TEXT = 'fiona: 1 < 2 & <b>not bold</b> &amp; café'
ALICE_TEXT = 'alice: <i>x</i> & 3 > 2'
BOB_TEXT = 'bob: a&b "quoted" ünïcode'
WHISPER = 'for bob only: <b>x</b> &amp; 1<2'

TIME = r'\(\d\d:\d\d:\d\d\) '
SESSION_UP = re.compile(r'SMMP: encrypted session up with (.+?)\. '
                        r'Verification code: ([0-9 ]+?) \(')
FINGERPRINT = r'[0-9A-F]{8}(?: [0-9A-F]{8}){4}'
ROSTER_LINE = re.compile(r'\s+(\d+)\. (\S+)  (%s)  \[([^\]]+)\].*' % FINGERPRINT)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--finch', default=shutil.which('finch') or 'finch')
    p.add_argument('--tmux', default=shutil.which('tmux') or 'tmux')
    return p.parse_args()


# ---------------------------------------------------------------------------
# Processes that are not our children (Finch under tmux's shell, the tmux
# server): waited for with a pidfd, which becomes readable when they end.


def pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            state = f.read().rpartition(b')')[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b'Z', b'X')


def wait_pid_gone(pid, timeout):
    """True once `pid` has ended (within `timeout` seconds)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        fd = None
    deadline = time.monotonic() + timeout
    try:
        while pid_alive(pid):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if fd is not None:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                poller.poll(left * 1000)
            else:
                time.sleep(min(left, 0.05))  # no pidfd: look again shortly
        return True
    finally:
        if fd is not None:
            os.close(fd)


def children(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def comm(pid):
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return ''


# ---------------------------------------------------------------------------
# Finch in a private tmux server


class Finch:
    """`finch -c CFGDIR` in its own tmux server (socket in the bed's dir),
    in a fixed COLS x ROWS terminal.  The pane runs `sh -c 'timeout ... finch
    ...; echo $? > status'`: Finch's exit status is known, and a Finch that
    outlives a killed test ends after FINCH_LIFETIME seconds (the server
    with it).  Finch is found by its PID under the pane's shell.  close()
    stops everything, always."""

    def __init__(self, bed, user, nick, room_node, plugin_so, finch, tmux):
        self.bed = bed
        self.user = user
        self.nick = nick
        self.room_node = room_node
        self.plugin_so = plugin_so
        self.finch = finch
        self.tmux = tmux
        self.dir = os.path.join(bed.dir, 'finch')
        self.cfg = os.path.join(self.dir, 'purple')
        self.sock = os.path.join(self.dir, 'tmux.sock')
        self.err = os.path.join(self.dir, 'finch.err')
        self.status_file = os.path.join(self.dir, 'finch.status')
        self.account = '%s@%s/finch' % (user, harness.DOMAIN)
        # Finch's title of the room window, also in its taskbar.
        self.title = '%s (%s -- XMPP)' % (room_node, self.account)
        self.pid = None        # Finch
        self.shell_pid = None  # the pane's sh
        self.server_pid = None  # the tmux server
        self.screens = []      # every screen read, for the armour check
        self.closed = False
        atexit.register(self.close)

    # -- config

    def write_config(self):
        """accounts.xml, blist.xml, prefs.xml and plugins/smmp.so, as
        Finch reads them at start: sign on at once, join the room."""
        plugin = harness.seed_purple_ui(self.cfg, 'gnt', self.account, self.bed.prosody.port,
                                        self.room_node, self.nick, self.plugin_so)
        with open(os.path.join(self.cfg, 'prefs.xml'), 'w', encoding='utf-8') as f:
            f.write(PREFS_XML % {'plugin': quoteattr(plugin), 'width': COLS, 'height': ROWS - 1})

    def env(self):
        """As the headless clients' (harness.private_env), and outside the
        tester's tmux."""
        return harness.private_env(self.dir, unset=('TMUX', 'TMUX_PANE'))

    # -- tmux

    def tmux_cmd(self, *args, check=True):
        p = subprocess.run([self.tmux, '-S', self.sock] + list(args), env=self.env(),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if check and p.returncode != 0:
            raise harness.BedError('tmux %s: exit %d: %s' % (
                ' '.join(args), p.returncode, p.stderr.decode('utf-8', 'replace').strip()))
        return p.stdout.decode('utf-8', 'replace')

    def start(self):
        self.write_config()
        conf = os.path.join(self.dir, 'tmux.conf')
        with open(conf, 'w') as f:
            # No status line; sh runs the pane's command.  The server
            # exits when Finch's pane does (no remain-on-exit).
            f.write('set -g status off\nset -g default-shell /bin/sh\n')
        # --foreground: Finch stays in the terminal's foreground group.
        finch = ['timeout', '--foreground', '-k', '10', str(FINCH_LIFETIME),
                 self.finch, '-c', self.cfg]
        if os.environ.get('SMMP_XMPP_FINCH_DEBUG', '') not in ('', '0'):
            finch.append('--debug')
        line = '%s 2>%s; echo $? >%s' % (
            ' '.join(shlex.quote(a) for a in finch), shlex.quote(self.err),
            shlex.quote(self.status_file))
        # window-size manual: no client that attaches (someone looking in)
        # may change the size; set after the session exists (tmux 3.3
        # exits when the config file sets it before).
        self.tmux_cmd('-f', conf, 'new-session', '-d', '-s', 'finch', '-x', str(COLS),
                      '-y', str(ROWS), line, ';', 'set', '-g', 'window-size', 'manual')
        out = self.tmux_cmd('display-message', '-p', '-t', 'finch',
                            '#{pid} #{pane_pid} #{window_width}x#{window_height}')
        server, shell, size = out.split()
        self.server_pid, self.shell_pid = int(server), int(shell)
        if size != '%dx%d' % (COLS, ROWS):
            raise harness.BedError('the tmux window is %s, not %dx%d' % (size, COLS, ROWS))
        self.pid = self._find_finch()
        return self

    def _find_finch(self, timeout=None):
        # The shell starts timeout, which starts Finch at once; look until
        # they have.
        deadline = time.monotonic() + (timeout or harness.TIMEOUT)
        while time.monotonic() < deadline:
            for pid in children(self.shell_pid):
                for sub in [pid] + children(pid):
                    if comm(sub) == 'finch':
                        return sub
            if not pid_alive(self.shell_pid):
                break
            time.sleep(0.01)
        raise harness.BedError('no finch process under the tmux pane (sh %d)\n%s'
                               % (self.shell_pid, self.diagnostics()))

    def running(self):
        return self.pid is not None and pid_alive(self.pid)

    # -- screen and keys

    def screen(self, escapes=False):
        args = ['capture-pane', '-p', '-t', 'finch'] + (['-e'] if escapes else [])
        text = self.tmux_cmd(*args)
        self.screens.append(text)
        return text

    def type(self, text):
        """Type `text` into the focused window and press Enter."""
        self.tmux_cmd('send-keys', '-t', 'finch', '-l', text, ';',
                      'send-keys', '-t', 'finch', 'Enter')

    def key(self, key):
        self.tmux_cmd('send-keys', '-t', 'finch', key)

    def wait_screen(self, pred, what, timeout=None, escapes=False):
        """Read the screen until pred(screen) gives something true (returned).
        Finch draws when it likes: there is no event to wait for, so the
        screen is read again every 50 ms until the deadline."""
        timeout = harness.TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            alive = self.running()
            try:
                screen = self.screen(escapes)
            except harness.BedError:
                if alive and self.running():
                    raise
                screen = ''  # Finch has gone, and its pane with it
            value = pred(screen)
            if value:
                return value
            if not alive:
                raise harness.BedError('finch exited (status %s) while waiting for %s\n%s'
                                       % (self.exit_status(), what, self.diagnostics()))
            if time.monotonic() >= deadline:
                raise harness.WaitTimeout('finch: no %s within %g s\n%s'
                                          % (what, timeout, self.diagnostics()))
            time.sleep(0.05)

    def wait_line(self, pattern, what, timeout=None):
        """The match of `pattern` (a regex, matched against whole lines of
        the conversation's text) on the screen."""
        rx = re.compile(pattern)

        def find(screen):
            for line in text_lines(screen):
                m = rx.fullmatch(line)
                if m:
                    return m
            return None
        return self.wait_screen(find, what, timeout)

    def has_focus(self, screen):
        # The taskbar (last row) draws the focused window's title white on
        # blue; the room window's title in row 1 proves nothing.
        bar = [r for r in screen.split('\n') if self.title in strip_escapes(r)]
        focused = re.compile(r'\x1b\[(?:[0-9;]*;)?44(?:;[0-9;]*)?m(?:\x1b\[[0-9;]*m)*'
                             + re.escape(self.title))
        return any(focused.search(r) for r in bar)

    def focus_room(self):
        """M-n until the room window has the focus (the buddy list keeps
        it after auto-join)."""
        for _ in range(3):
            if self.has_focus(self.screen(escapes=True)):
                return
            self.key('M-n')
            try:
                self.wait_screen(self.has_focus, 'focus on %s' % self.title, timeout=10,
                                 escapes=True)
                return
            except harness.WaitTimeout:
                continue
        raise harness.WaitTimeout('the room window never got the focus\n%s' % self.diagnostics())

    # -- stopping

    def stop(self, timeout=20):
        """SIGTERM to Finch's PID; returns its exit status (as the shell saw
        it: 128+N for a signal N) once it has gone and written it."""
        if self.running():
            os.kill(self.pid, signal.SIGTERM)
            if not wait_pid_gone(self.pid, timeout):
                raise harness.WaitTimeout('finch (pid %d) still runs %g s after SIGTERM'
                                          % (self.pid, timeout))
        if self.shell_pid is not None and not wait_pid_gone(self.shell_pid, 10):
            raise harness.WaitTimeout('the pane\'s shell did not end after finch')
        return self.exit_status()

    def exit_status(self):
        """Finch's exit status as the pane's shell wrote it (None before)."""
        try:
            with open(self.status_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def close(self):
        """Finch by PID (SIGTERM, then SIGKILL), then the tmux server.
        Idempotent; never raises."""
        if self.closed:
            return
        self.closed = True
        for pid, soft in ((self.pid, 20), (self.shell_pid, 15)):
            if pid is None or not pid_alive(pid):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
                if not wait_pid_gone(pid, soft):
                    os.kill(pid, signal.SIGKILL)
                    wait_pid_gone(pid, 5)
            except ProcessLookupError:
                pass
        if self.server_pid is not None and pid_alive(self.server_pid):
            try:
                self.tmux_cmd('kill-server', check=False)
            except (OSError, subprocess.SubprocessError):
                pass
            if not wait_pid_gone(self.server_pid, 10):
                try:
                    os.kill(self.server_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_pid_gone(self.server_pid, 5)

    def diagnostics(self):
        last = self.screens[-1] if self.screens else '(no screen read)'
        return '--- finch: last screen\n%s\n--- finch: stderr (tail)\n%s' % (
            last.rstrip('\n'), harness._tail(self.err, 15))


def strip_escapes(text):
    return re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', text)


def text_lines(screen):
    """The rows of the conversation view: inside the window's left border,
    without the scroll bar and right border."""
    out = []
    for row in screen.split('\n'):
        if row.startswith('│'):
            out.append(row[1:].rstrip(' ▒│'))
    return out


# No STUN look-up, no chat log; the room window at the top left, as big
# as the terminal (the taskbar takes the last row).
PREFS_XML = """<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
 <pref name='purple'>
  <pref name='network'>
   <pref name='stun_server' type='string' value='127.0.0.1'/>
  </pref>
  <pref name='logging'>
   <pref name='log_chats' type='bool' value='0'/>
  </pref>
 </pref>
 <pref name='finch'>
  <pref name='plugins'>
   <pref name='loaded' type='pathlist'>
    <item value=%(plugin)s/>
   </pref>
  </pref>
  <pref name='conversations'>
   <pref name='size'>
    <pref name='width' type='int' value='%(width)d'/>
    <pref name='height' type='int' value='%(height)d'/>
   </pref>
   <pref name='position'>
    <pref name='x' type='int' value='0'/>
    <pref name='y' type='int' value='0'/>
   </pref>
  </pref>
 </pref>
</pref>
"""


# ---------------------------------------------------------------------------


def main():
    opts = parse_args()
    plugin_so = os.path.join(secured.plugin_dir(), 'smmp.so')

    tap = harness.Tap(12)
    state = {}
    with harness.Bed('smmp-finch', start=False) as bed:
        finch = Finch(bed, FINCH_USER, FINCH_USER, ROOM_NODE, plugin_so, opts.finch, opts.tmux)
        try:
            run_steps(tap, bed, finch, state, plugin_so)
        finally:
            finch.close()
    return tap.done()


def run_steps(tap, bed, finch, state, plugin_so):
    def diag():
        return '%s\n%s' % (finch.diagnostics(), bed.diagnostics())

    def step(desc, fn):
        # A client's timeout carries that client's story only: add what
        # Finch showed last.
        def run():
            try:
                return fn()
            except (harness.BedError, harness.WaitTimeout) as e:
                if 'finch: last screen' in str(e):
                    raise
                raise type(e)('%s\n%s' % (e, finch.diagnostics())) from e
        return tap.run(desc, run, diagnostics=diag)

    def start_bed():
        secured.start_bed(tap, bed, plugin_so, USERS)

    def headless_in_room():
        clients = secured.start_clients(bed, HEADLESS)
        state['clients'] = clients
        # One after the other: the first creates the room.
        for c in clients:
            c.join(ROOM)
        for c in clients:
            c.wait_members(ROOM, HEADLESS)
            c.say('/smmp fingerprint')
        for c in clients:
            e = c.wait_write(text=lambda p: re.fullmatch('SMMP: you: ' + FINGERPRINT, p),
                             flags=['system'])
            state.setdefault('fp', {})[c.user] = e['plain'].split(': ', 2)[2]

    def finch_joins():
        finch.start()
        tap.diag('finch pid %d under tmux server %d (%s)' % (finch.pid, finch.server_pid,
                                                             finch.sock))
        for c in state['clients']:
            c.wait_members(ROOM, USERS)
        # The room's subject comes after every occupant's presence: Finch
        # then knows who is there.
        finch.wait_line(TIME + r'The topic is:.*', 'the room window with its topic')

    def focus():
        finch.focus_room()

    def start_session():
        marks = {c.name: c.mark() for c in state['clients']}
        finch.type('/smmp start')
        m = finch.wait_line(TIME + SESSION_UP.pattern + '.*', 'the session up in Finch')
        members, code = m.group(1), m.group(2)
        assert sorted(members.split(', ')) == sorted(USERS), members
        state['code'] = code
        for c in state['clients']:
            e = c.wait_write(text=lambda p: SESSION_UP.match(p), flags=['system'],
                             since=marks[c.name])
            m = SESSION_UP.match(e['plain'])
            assert sorted(m.group(1).split(', ')) == sorted(USERS), (c.name, e)
            assert m.group(2) == code, '%s: code %s, Finch: %s' % (c.name, m.group(2), code)
        tap.diag('verification code at all three: %s' % code)
        # Nothing was refused on the way.
        errors = [line for line in text_lines(finch.screen())
                  if 'No such command' in line or 'failed' in line]
        assert not errors, errors

    def finch_talks():
        marks = {c.name: c.mark() for c in state['clients']}
        finch.type(FINCH_TEXT)
        for c in state['clients']:
            e = c.wait_write(text=FINCH_TEXT, who=FINCH_USER, flags=['recv'],
                             since=marks[c.name])
            assert 'system' not in e['flags'], e
        # Finch shows its own message, decrypted from the room's copy.
        finch.wait_line(TIME + re.escape('%s: %s' % (FINCH_USER, FINCH_TEXT)),
                        'its own message')

    def others_talk():
        alice, bob = state['clients']
        alice.say(ALICE_TEXT)
        bob.say(BOB_TEXT)
        for c, text in ((alice, ALICE_TEXT), (bob, BOB_TEXT)):
            finch.wait_line(TIME + re.escape('%s: %s' % (c.user, text)),
                            '%s\'s message' % c.user)

    def status():
        finch.type('/smmp status')
        tail = re.compile(r'Your fingerprint: (%s)' % FINGERPRINT)

        def roster(screen):
            lines = text_lines(screen)
            heads = [i for i, line in enumerate(lines)
                     if re.fullmatch(TIME + r'SMMP: encrypted session up: 3 members, '
                                     r'generation \d+, epoch \d+\.', line)]
            if not heads:
                return None
            rows = {}
            for line in lines[heads[-1] + 1:]:
                m = ROSTER_LINE.fullmatch(line)
                if m:
                    rows[m.group(2)] = (m.group(3), m.group(4))
                elif tail.fullmatch(line):
                    return rows, lines[heads[-1] + 1], tail.fullmatch(line).group(1)
            return None
        rows, code_line, own_fp = finch.wait_screen(roster, 'the roster of /smmp status')
        assert sorted(rows) == sorted(USERS), rows
        assert code_line == 'Verification code: %s' % state['code'], code_line
        assert rows[FINCH_USER] == (own_fp, 'you'), rows
        for user in HEADLESS:
            assert rows[user][0] == state['fp'][user], (user, rows[user], state['fp'][user])
            assert rows[user][1] != 'you', rows
        tap.diag('roster: %s' % ', '.join('%s [%s]' % (n, rows[n][1]) for n in sorted(rows)))

    def whisper():
        # Finch hands a command the line as typed: the text must cross
        # unchanged, as a message would.
        alice, bob = state['clients']
        mark = bob.mark()
        finch.type('/smmp msg bob %s' % WHISPER)
        e = bob.wait_write(who=FINCH_USER, flags=['whisper'], since=mark)
        assert e['plain'] == WHISPER, 'bob got %r, Finch typed %r' % (e['plain'], WHISPER)

    def no_armour():
        shown = [s for s in finch.screens if any(a in s for a in ARMOUR_MARKS)]
        assert not shown, 'armour on Finch\'s screen:\n%s' % shown[0]
        for c in state['clients']:
            bad = [e for e in c.writes() if any(a in (e.get('text') or '') for a in ARMOUR_MARKS)]
            assert not bad, (c.name, bad)
        tap.diag('%d screens read, none with armour' % len(finch.screens))

    def server_saw_armour():
        stored = harness.stored_messages(bed.muc_log(ROOM))
        assert stored, 'nothing archived'
        clear = [(n, b) for n, b in stored if '?SMMP1:' not in b]
        assert not clear, 'stored in clear: %s' % clear
        for text in (FINCH_TEXT, ALICE_TEXT, BOB_TEXT, WHISPER):
            assert not any(text in b for _, b in stored), text
        senders = {n for n, _ in stored}
        assert senders == set(USERS), senders
        tap.diag('%d messages archived, all armoured' % len(stored))

    def stop():
        pid = finch.pid
        t0 = time.monotonic()
        status = finch.stop()
        tap.diag('finch (pid %d) ended %.2f s after SIGTERM, exit status %s'
                 % (pid, time.monotonic() - t0, status))
        # Finch's SIGTERM handler unloads the plugins and exits; a crash
        # or a sanitizer's abort would end it by a signal (128+N).
        assert status is not None and status < 128, 'finch exit status %s\n%s' % (
            status, finch.diagnostics())
        server = finch.server_pid
        finch.close()
        assert not pid_alive(pid) and not pid_alive(server), (pid, server)
        for c in state['clients']:
            rc = c.quit()
            assert rc == 0, '%s exited with %s\n%s' % (c.name, rc, c.diagnostics())

    tap.run('private Prosody up, %s registered' % ', '.join(USERS), start_bed)
    step('alice and bob (smmp-client, plugin loaded) in %s' % ROOM, headless_in_room)
    step('Finch (tmux %dx%d, plugin from its config dir) signs on and joins'
         % (COLS, ROWS), finch_joins)
    step('M-n gives the room window the focus', focus)
    step('/smmp start typed in Finch: session up at all three, one verification code',
         start_session)
    step('a message typed in Finch arrives decrypted at alice and bob', finch_talks)
    step('alice\'s and bob\'s messages appear decrypted on Finch\'s screen', others_talk)
    step('/smmp status typed in Finch lists the three members and their fingerprints',
         status)
    step('/smmp msg typed in Finch: bob gets the text as typed', whisper)
    step('no armour on any screen Finch showed nor in alice\'s and bob\'s windows',
         no_armour)
    step('the server stored only armour', server_saw_armour)
    step('Finch stops on SIGTERM to its PID, the tmux server is gone', stop)


if __name__ == '__main__':
    sys.exit(main())
