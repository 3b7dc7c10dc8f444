#!/usr/bin/python3
"""test-pidgin.py: the plugin in real Pidgin, on a private X display.

A private Prosody; alice and bob (smmp-client, plugin loaded) are in a
room.  Xvfb runs on a free display number (it picks one itself and names
it on a pipe once it accepts clients); Pidgin runs there with its own
config dir (the account, the room to join, smmp.so in CFGDIR/plugins,
loaded through /pidgin/plugins/loaded, chat logs in text with the plugin's
"log decrypted messages" preference on) and joins as pia.  Keys are typed
into Pidgin's room window with xdotool: `/smmp start` brings the session
up at all three; a message typed in Pidgin arrives decrypted at alice and
bob; theirs reach Pidgin decrypted, which its own chat log shows (and no
armour).  Screenshots of the room window (xwd -id | xwdtopnm | pnmtopng)
after the session is up, after the talk and after `/smmp status` are kept
in the test's directory and copied to $SMMP_SCREENSHOT_DIR when it is set;
they must be PNG files that are not blank.  Pidgin and Xvfb are stopped by
SIGTERM to their PIDs, whatever happened before.  Prints TAP.

By hand (after building):
    SMMP_CLIENT=build/tests/xmpp/smmp-client SMMP_PLUGIN_DIR=build/plugin \\
        /usr/bin/python3 tests/xmpp/test-pidgin.py
Options: --pidgin, --xvfb, --xdotool, --xwd, --xwdtopnm, --pnmtopng,
--pngtopnm name the programs (default: from PATH).  Not for a plugin built
with a sanitizer: Pidgin has no sanitizer runtime, and one preloaded hangs
Pidgin at start (even `pidgin --version`).  SMMP_XMPP_PIDGIN_DEBUG=1 runs
`pidgin --debug` (its output goes to pidgin/pidgin.log, kept with
SMMP_XMPP_KEEP=1).  SMMP_SCREENSHOT_DIR=DIR copies the screenshots there.
"""

import argparse
import glob
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from xml.sax.saxutils import quoteattr

# No __pycache__ in the source tree when run by hand.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import secured  # noqa: E402

ROOM_NODE = 'pidginroom'
ROOM = harness.room_jid(ROOM_NODE)
HEADLESS = ['alice', 'bob']
PIDGIN_USER = 'pia'
USERS = HEADLESS + [PIDGIN_USER]

# The X screen, and where Pidgin's windows go on it: the room window at
# the top left, the buddy list beside it, so that nothing covers the room.
SCREEN = (1280, 800)
ROOM_GEOMETRY = (0, 0, 720, 520)
BLIST_GEOMETRY = (760, 0, 260, 520)

ARMOUR_MARKS = (secured.TAG, '[SMMP encrypted message')

# Markup characters must cross as typed (Pidgin sends HTML).  Plain ASCII
# that no smiley or URL rule of Pidgin's entry rewrites.
PIDGIN_TEXT = 'pia typed: 1 < 2 & 3 > 2, <b>not bold</b>'
ALICE_TEXT = 'alice here: <i>x</i> & "quoted", caf\u00e9'
BOB_TEXT = 'bob here: a&b, \u00fcn\u00efcode'

# A screenshot with fewer colours than this is blank (one background) or
# nearly so; text drawn with anti-aliasing gives dozens.
MIN_COLOURS = 16

# A window has settled when this many captures in a row, over this many
# seconds at least, are alike.
SETTLE_SHOTS, SETTLE_TIME = 3, 0.3
# The bottom rows of the room window: its input line, where typed text
# shows until Enter sends it.
ENTRY_ROWS = 50


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    for prog in ('pidgin', 'xvfb', 'xdotool', 'xwd', 'xwdtopnm', 'pnmtopng', 'pngtopnm'):
        name = 'Xvfb' if prog == 'xvfb' else prog
        p.add_argument('--' + prog, default=shutil.which(name) or name)
    return p.parse_args()


def desktop_env(base_dir):
    """The environment of a program on our display: as the headless
    clients' (harness.private_env), and no desktop settings or modules from
    the tester's session."""
    env = harness.private_env(base_dir, unset=(
        'LD_PRELOAD', 'XAUTHORITY', 'GTK_MODULES', 'GTK2_RC_FILES', 'XDG_CONFIG_DIRS',
        'XDG_DATA_DIRS', 'SESSION_MANAGER'))
    env['NO_AT_BRIDGE'] = '1'
    return env


# ---------------------------------------------------------------------------
# Xvfb


class Xvfb:
    """An X server of our own.  `-displayfd` makes Xvfb choose a free
    display number and write it to a pipe once it accepts connections: no
    guessing, no waiting for a socket to appear."""

    def __init__(self, directory, program):
        self.dir = directory
        self.program = program
        self.log = os.path.join(directory, 'xvfb.log')
        self.proc = None
        self.display = None

    def start(self, timeout=None):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        rfd, wfd = os.pipe()
        argv = [self.program, '-displayfd', str(wfd), '-screen', '0',
                '%dx%dx24' % SCREEN, '-nolisten', 'tcp', '-noreset']
        try:
            with open(self.log, 'ab') as log:
                self.proc = subprocess.Popen(harness._pdeathsig(argv), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log, pass_fds=(wfd,),
                                             env=desktop_env(self.dir))
            harness._track(self.proc)
        finally:
            os.close(wfd)
        try:
            number = self._read_display(rfd, timeout or harness.TIMEOUT)
        finally:
            os.close(rfd)
        self.display = ':%d' % number
        return self

    def _read_display(self, fd, timeout):
        data = b''
        deadline = time.monotonic() + timeout
        while not data.endswith(b'\n'):
            left = deadline - time.monotonic()
            if left <= 0:
                raise harness.WaitTimeout('Xvfb named no display within %g s\n%s'
                                          % (timeout, harness._tail(self.log)))
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 64)
                if not chunk:  # Xvfb exited without naming one
                    raise harness.BedError('Xvfb exited (status %s)\n%s'
                                           % (self.proc.wait(), harness._tail(self.log)))
                data += chunk
        return int(data.strip())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return None, True
        return harness.stop_process(self.proc, 10)


# ---------------------------------------------------------------------------
# Pidgin


class Pidgin:
    """`pidgin -c CFGDIR` on the Xvfb display, and the X tools that drive
    it (xdotool) and look at it (xwd).  stop() ends Pidgin by its PID;
    main() calls it whatever happened."""

    def __init__(self, bed, xvfb, opts, plugin_so):
        self.bed = bed
        self.xvfb = xvfb
        self.opts = opts
        self.plugin_so = plugin_so
        self.dir = os.path.join(bed.dir, 'pidgin')
        self.cfg = os.path.join(self.dir, 'purple')
        self.shots = os.path.join(self.dir, 'screenshots')
        self.log_path = os.path.join(self.dir, 'pidgin.log')
        self.account = '%s@%s/pidgin' % (PIDGIN_USER, harness.DOMAIN)
        self.proc = None
        self.room_win = None

    # -- config

    def write_config(self):
        """accounts.xml, blist.xml, prefs.xml, plugins/smmp.so and a gtkrc,
        as Pidgin reads them at start: sign on at once, join the room."""
        os.makedirs(self.shots, exist_ok=True)
        plugin = harness.seed_purple_ui(self.cfg, 'gtk', self.account, self.bed.prosody.port,
                                        ROOM_NODE, PIDGIN_USER, self.plugin_so)
        files = {
            'prefs.xml': PREFS_XML % {
                'plugin': quoteattr(plugin),
                'cx': ROOM_GEOMETRY[0], 'cy': ROOM_GEOMETRY[1],
                'cw': ROOM_GEOMETRY[2], 'ch': ROOM_GEOMETRY[3],
                'bx': BLIST_GEOMETRY[0], 'by': BLIST_GEOMETRY[1],
                'bw': BLIST_GEOMETRY[2], 'bh': BLIST_GEOMETRY[3]},
            'gtkrc': GTKRC,
        }
        for name, text in files.items():
            with open(os.path.join(self.cfg, name), 'w', encoding='utf-8') as f:
                f.write(text)

    def env(self):
        env = desktop_env(self.dir)
        env['DISPLAY'] = self.xvfb.display
        # No blinking cursor: two screenshots of an unchanged window must
        # be the same.
        env['GTK2_RC_FILES'] = os.path.join(self.cfg, 'gtkrc')
        return env

    def start(self):
        self.write_config()
        argv = [self.opts.pidgin, '-c', self.cfg]
        if os.environ.get('SMMP_XMPP_PIDGIN_DEBUG', '') not in ('', '0'):
            argv.append('--debug')
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(harness._pdeathsig(argv), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, cwd=self.dir,
                                         env=self.env())
        harness._track(self.proc)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def check_running(self, what):
        if not self.running():
            raise harness.BedError('pidgin exited (status %s) while %s\n%s'
                                   % (self.proc.poll(), what, self.diagnostics()))

    # -- X tools

    def x(self, *argv, timeout=None, binary=False):
        """Run an X tool on our display; its standard output."""
        p = subprocess.run(list(argv), env=self.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout or harness.TIMEOUT)
        if p.returncode != 0:
            raise harness.BedError('%s: exit %d: %s' % (
                ' '.join(argv), p.returncode, p.stderr.decode('utf-8', 'replace').strip()))
        return p.stdout if binary else p.stdout.decode('utf-8', 'replace')

    def xdotool(self, *args, timeout=None):
        return self.x(self.opts.xdotool, *args, timeout=timeout)

    def find_window(self, title_re, timeout=None):
        """The id of the visible window whose title matches `title_re`.
        `search --sync` waits for it, on X events."""
        timeout = timeout or harness.TIMEOUT
        try:
            out = self.xdotool('search', '--sync', '--onlyvisible', '--name', title_re,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise harness.WaitTimeout('no window named /%s/ within %g s\n%s'
                                      % (title_re, timeout, self.diagnostics()))
        return out.split()[0]

    def window_name(self, win):
        return self.xdotool('getwindowname', win).strip()

    def arrange(self, win):
        """The room window at its place, on top, with the keyboard focus
        (there is no window manager: xdotool sets the X input focus)."""
        x, y, w, h = ROOM_GEOMETRY
        self.xdotool('windowmove', '--sync', win, str(x), str(y))
        self.xdotool('windowsize', '--sync', win, str(w), str(h))
        self.xdotool('windowraise', win)
        self.xdotool('windowfocus', '--sync', win)

    def type(self, text):
        """Type `text` into the focused window (the room's input line) and
        press Enter."""
        self.check_running('typing')
        self.xdotool('windowfocus', '--sync', self.room_win)
        self.xdotool('type', '--delay', '15', '--', text)
        self.xdotool('key', 'Return')

    # -- screenshots

    def capture(self):
        """The room window now, as a PPM image (bytes)."""
        xwd = self.x(self.opts.xwd, '-silent', '-id', self.room_win, binary=True)
        p = subprocess.run([self.opts.xwdtopnm], input=xwd, capture_output=True,
                           timeout=harness.TIMEOUT)
        if p.returncode != 0:
            raise harness.BedError('xwdtopnm: %s' % p.stderr.decode('utf-8', 'replace'))
        return p.stdout

    def settled_capture(self, unlike=None, entry_as=None, timeout=None):
        """A capture once the window has stopped changing (SETTLE_SHOTS
        captures in a row alike, SETTLE_TIME seconds apart at least) and,
        when `unlike` is given, differs from it; when `entry_as` is given,
        its input line (the bottom rows) must look as there: empty again,
        so the typed line was sent.  GTK draws when it likes: there is no
        event to wait for, so it captures again until the deadline."""
        timeout = timeout or harness.TIMEOUT
        deadline = time.monotonic() + timeout
        same, first = [], None
        while True:
            self.check_running('taking a screenshot')
            img = self.capture()
            if same and img == same[-1]:
                same.append(img)
            else:
                same, first = [img], time.monotonic()
            if (len(same) >= SETTLE_SHOTS and time.monotonic() - first >= SETTLE_TIME
                    and (unlike is None or img != unlike)
                    and (entry_as is None or bottom_rows(img) == bottom_rows(entry_as))):
                return img
            if time.monotonic() >= deadline:
                raise harness.WaitTimeout('the room window did not settle%s within %g s'
                                          % (' on a new picture' if unlike else '', timeout))
            time.sleep(0.1)

    def save_png(self, ppm, name):
        path = os.path.join(self.shots, name)
        p = subprocess.run([self.opts.pnmtopng, '-compression', '9'], input=ppm,
                           capture_output=True, timeout=harness.TIMEOUT)
        if p.returncode != 0:
            raise harness.BedError('pnmtopng: %s' % p.stderr.decode('utf-8', 'replace'))
        with open(path, 'wb') as f:
            f.write(p.stdout)
        return path

    # -- the chat log

    def chat_logs(self):
        pattern = os.path.join(self.cfg, 'logs', 'jabber', glob.escape(
            '%s@%s' % (PIDGIN_USER, harness.DOMAIN)), glob.escape(ROOM + '.chat'), '*.txt')
        return sorted(glob.glob(pattern))

    def chat_log(self):
        text = ''
        for path in self.chat_logs():
            with open(path, encoding='utf-8', errors='replace') as f:
                text += f.read()
        return text

    def wait_log(self, pred, what, timeout=None):
        """Read the chat log until pred(text) is true.  libpurple writes
        and flushes each line as it is shown; there is no event outside
        Pidgin for it, so the file is read again every 50 ms."""
        timeout = timeout or harness.TIMEOUT
        deadline = time.monotonic() + timeout
        while True:
            self.check_running('waiting for %s' % what)
            text = self.chat_log()
            value = pred(text)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise harness.WaitTimeout('pidgin\'s chat log: no %s within %g s\n%s'
                                          % (what, timeout, self.diagnostics()))
            time.sleep(0.05)

    def session_notes(self):
        """The plugin's notes on the room's session (written when a
        session comes up), as a dict, or None."""
        for path in glob.glob(os.path.join(self.cfg, 'smmp', '**', '*.json.notes'),
                              recursive=True):
            try:
                with open(path, encoding='utf-8') as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None
        return None

    # -- stopping

    def stop(self):
        if self.proc is None:
            return None, True
        return harness.stop_process(self.proc, 30)

    def diagnostics(self):
        log = self.chat_log()
        return '--- pidgin: output (tail)\n%s\n--- pidgin: chat log (tail)\n%s' % (
            harness._tail(self.log_path, 20), '\n'.join(log.splitlines()[-15:]))


def ppm_header(data):
    m = re.match(rb'(P[56])\s+(\d+)\s+(\d+)\s+(\d+)\s', data)
    assert m, 'not a binary PNM: %r' % data[:16]
    return m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), m.end()


def bottom_rows(ppm):
    """The pixels of the bottom ENTRY_ROWS rows of a PPM image: the room
    window's input line."""
    kind, w, h, maxval, start = ppm_header(ppm)
    step = 3 if kind == b'P6' else 1
    return ppm[start + (h - ENTRY_ROWS) * w * step:start + h * w * step]


def count_colours(png, pngtopnm):
    """(width, height, distinct colours) of a PNG file, decoded by
    pngtopnm (a PNG pnmtopng wrote may be palette-based or grey)."""
    p = subprocess.run([pngtopnm, png], capture_output=True, timeout=harness.TIMEOUT)
    assert p.returncode == 0, 'pngtopnm %s: %s' % (png, p.stderr.decode('utf-8', 'replace'))
    return ppm_colours(p.stdout)


def ppm_colours(data):
    kind, w, h, maxval, start = ppm_header(data)
    assert maxval < 256, maxval
    step = 3 if kind == b'P6' else 1
    pixels = data[start:start + w * h * step]
    assert len(pixels) == w * h * step, 'short image'
    colours = {pixels[i:i + step] for i in range(0, len(pixels), step)}
    return w, h, len(colours)


# No STUN look-up; chat logs in text, with the decrypted messages (the
# plugin's preference); no sounds, no tray icon, no smileys, no smooth
# scrolling (a screenshot must not catch a scroll half-way).
PREFS_XML = """<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
 <pref name='purple'>
  <pref name='network'>
   <pref name='stun_server' type='string' value='127.0.0.1'/>
  </pref>
  <pref name='logging'>
   <pref name='log_chats' type='bool' value='1'/>
   <pref name='log_ims' type='bool' value='0'/>
   <pref name='log_system' type='bool' value='0'/>
   <pref name='format' type='string' value='txt'/>
  </pref>
 </pref>
 <pref name='plugins'>
  <pref name='core'>
   <pref name='smmp'>
    <pref name='log_decrypted' type='bool' value='1'/>
   </pref>
  </pref>
 </pref>
 <pref name='pidgin'>
  <pref name='plugins'>
   <pref name='loaded' type='pathlist'>
    <item value=%(plugin)s/>
   </pref>
  </pref>
  <pref name='sound'>
   <pref name='method' type='string' value='none'/>
  </pref>
  <pref name='docklet'>
   <pref name='show' type='string' value='never'/>
  </pref>
  <pref name='debug'>
   <pref name='enabled' type='bool' value='0'/>
  </pref>
  <pref name='blist'>
   <pref name='x' type='int' value='%(bx)d'/>
   <pref name='y' type='int' value='%(by)d'/>
   <pref name='width' type='int' value='%(bw)d'/>
   <pref name='height' type='int' value='%(bh)d'/>
  </pref>
  <pref name='conversations'>
   <pref name='show_smileys' type='bool' value='0'/>
   <pref name='smiley_shortcuts' type='bool' value='0'/>
   <pref name='spellcheck' type='bool' value='0'/>
   <pref name='use_smooth_scrolling' type='bool' value='0'/>
   <pref name='show_formatting_toolbar' type='bool' value='0'/>
   <pref name='show_urls_as_links' type='bool' value='0'/>
   <pref name='chat'>
    <pref name='x' type='int' value='%(cx)d'/>
    <pref name='y' type='int' value='%(cy)d'/>
    <pref name='width' type='int' value='%(cw)d'/>
    <pref name='height' type='int' value='%(ch)d'/>
   </pref>
  </pref>
 </pref>
</pref>
"""

GTKRC = 'gtk-cursor-blink = 0\n'


# ---------------------------------------------------------------------------


def main():
    opts = parse_args()
    plugin_so = os.path.join(secured.plugin_dir(), 'smmp.so')

    tap = harness.Tap(11)
    state = {}
    with harness.Bed('smmp-pidgin', start=False) as bed:
        xvfb = Xvfb(os.path.join(bed.dir, 'xvfb'), opts.xvfb)
        pidgin = Pidgin(bed, xvfb, opts, plugin_so)
        try:
            run_steps(tap, bed, xvfb, pidgin, state, plugin_so)
        finally:
            # Pidgin before its display; both by PID, also on failure.
            pidgin.stop()
            xvfb.stop()
    return tap.done()


def run_steps(tap, bed, xvfb, pidgin, state, plugin_so):
    opts = pidgin.opts

    def diag():
        return '%s\n%s' % (pidgin.diagnostics(), bed.diagnostics())

    def start_bed():
        secured.start_bed(tap, bed, plugin_so, USERS)

    def headless_in_room():
        clients = secured.start_clients(bed, HEADLESS)
        state['clients'] = clients
        # One after the other: the first creates the room, so Pidgin
        # joins an existing one (no "Create New Room" dialog).
        for c in clients:
            c.join(ROOM)
        for c in clients:
            c.wait_members(ROOM, HEADLESS)

    def pidgin_joins():
        xvfb.start()
        tap.diag('Xvfb pid %d on display %s' % (xvfb.proc.pid, xvfb.display))
        pidgin.start()
        tap.diag('pidgin pid %d, config dir %s' % (pidgin.proc.pid, pidgin.cfg))
        try:
            for c in state['clients']:
                c.wait_members(ROOM, USERS)
        except harness.WaitTimeout as e:
            raise harness.WaitTimeout('%s\n%s' % (e, pidgin.diagnostics()))
        # The room's subject comes after every occupant's presence: Pidgin
        # then knows who is there.  It is logged, the plugin's notices are
        # not.
        pidgin.wait_log(lambda t: 'The topic is:' in t, 'line about the room\'s topic')
        win = pidgin.find_window('^%s(@%s)?$' % (re.escape(ROOM_NODE),
                                                 re.escape(harness.MUC_DOMAIN)))
        pidgin.room_win = win
        pidgin.arrange(win)
        tap.diag('room window %s, titled %r' % (win, pidgin.window_name(win)))

    def start_session():
        marks = secured.marks(state['clients'])
        before = pidgin.settled_capture()
        pidgin.type('/smmp start')
        code = secured.wait_up(state['clients'], marks, USERS)
        state['code'] = code
        tap.diag('alice and bob: session up with %s, code %s' % (', '.join(USERS), code))
        # Pidgin's plugin saw the session come up: it wrote its notes.
        notes = None
        deadline = time.monotonic() + harness.TIMEOUT
        while notes is None or not notes.get('up_since'):
            pidgin.check_running('waiting for its session notes')
            assert time.monotonic() < deadline, 'pidgin\'s plugin wrote no session notes'
            time.sleep(0.05)
            notes = pidgin.session_notes()
        assert notes.get('self_handle') == PIDGIN_USER, notes
        # The notice in the window changes the picture.
        state['shot_up'] = pidgin.settled_capture(unlike=before, entry_as=before)
        state['png_up'] = pidgin.save_png(state['shot_up'], 'pidgin-session-up.png')

    def pidgin_talks():
        marks = secured.marks(state['clients'])
        pidgin.type(PIDGIN_TEXT)
        for c in state['clients']:
            e = c.wait_write(text=PIDGIN_TEXT, who=PIDGIN_USER, flags=['recv'],
                             since=marks[c.name])
            assert 'system' not in e['flags'], e
        # Pidgin decrypts its own message from the room's copy.
        pidgin.wait_log(lambda t: re.search(r'\(\d\d:\d\d:\d\d\) %s: %s$' % (
            re.escape(PIDGIN_USER), re.escape(PIDGIN_TEXT)), t, re.M),
            'line with its own message')

    def others_talk():
        alice, bob = state['clients']
        alice.say(ALICE_TEXT)
        bob.say(BOB_TEXT)

        def both(text):
            return all(re.search(r'^\(\d\d:\d\d:\d\d\) %s: %s$' % (re.escape(c.user),
                                                                   re.escape(t)), text, re.M)
                       for c, t in ((alice, ALICE_TEXT), (bob, BOB_TEXT)))
        pidgin.wait_log(both, 'lines with alice\'s and bob\'s messages')
        state['shot_room'] = pidgin.settled_capture(unlike=state['shot_up'],
                                                    entry_as=state['shot_up'])
        state['png_room'] = pidgin.save_png(state['shot_room'], 'pidgin-room.png')

    def log_clean():
        log = pidgin.chat_log()
        hint = secured.read_hint()
        for mark in ARMOUR_MARKS + (hint,):
            assert mark not in log, 'pidgin\'s log holds %r:\n%s' % (mark, log)
        # Each message once, as sent.
        for who, text in ((PIDGIN_USER, PIDGIN_TEXT), ('alice', ALICE_TEXT),
                          ('bob', BOB_TEXT)):
            n = len(re.findall(r'^\(\d\d:\d\d:\d\d\) %s: %s$' % (re.escape(who),
                                                                re.escape(text)), log, re.M))
            assert n == 1, '%r logged %d times:\n%s' % (text, n, log)
        # The notices (fingerprints, codes) stay out of the log.
        assert 'SMMP:' not in log and state['code'] not in log, log
        tap.diag('chat log %s: %d lines, no armour' % (
            os.path.relpath(pidgin.chat_logs()[-1], bed.dir), len(log.splitlines())))

    def status():
        pidgin.type('/smmp status')
        state['shot_status'] = pidgin.settled_capture(unlike=state['shot_room'],
                                                      entry_as=state['shot_room'])
        state['png_status'] = pidgin.save_png(state['shot_status'], 'pidgin-status.png')

    def screenshots():
        win_w, win_h = ROOM_GEOMETRY[2], ROOM_GEOMETRY[3]
        for key in ('png_up', 'png_room', 'png_status'):
            path = state[key]
            with open(path, 'rb') as f:
                assert f.read(8) == b'\x89PNG\r\n\x1a\n', '%s is no PNG' % path
            w, h, colours = count_colours(path, opts.pngtopnm)
            assert (w, h) == (win_w, win_h), '%s is %dx%d, the window %dx%d' % (
                path, w, h, win_w, win_h)
            assert colours > MIN_COLOURS, '%s: %d colours (blank?)' % (path, colours)
            tap.diag('%s: %dx%d, %d colours, %d bytes' % (
                os.path.basename(path), w, h, colours, os.path.getsize(path)))
        out = os.environ.get('SMMP_SCREENSHOT_DIR')
        if out:
            os.makedirs(out, exist_ok=True)
            for key in ('png_up', 'png_room', 'png_status'):
                shutil.copy(state[key], out)
            tap.diag('copied to %s' % out)

    def no_armour_elsewhere():
        for c in state['clients']:
            secured.assert_no_armour(c)
        stored = harness.stored_messages(bed.muc_log(ROOM))
        assert stored, 'nothing archived'
        for nick, body in stored:
            assert secured.TAG in body, 'stored in clear: %s: %s' % (nick, body)
            for text in (PIDGIN_TEXT, ALICE_TEXT, BOB_TEXT):
                assert text not in body, text
        assert {n for n, _ in stored} == set(USERS), stored
        tap.diag('%d messages archived, all armoured' % len(stored))

    def stop():
        pid, xpid = pidgin.proc.pid, xvfb.proc.pid
        t0 = time.monotonic()
        status, soft = pidgin.stop()
        tap.diag('pidgin (pid %d) ended %.2f s after SIGTERM, exit status %s'
                 % (pid, time.monotonic() - t0, status))
        # Pidgin quits cleanly on SIGTERM (it unloads the plugins); a crash
        # or a sanitizer's abort would end it by a signal.
        assert soft and status == 0, 'pidgin exit status %s\n%s' % (status, pidgin.diagnostics())
        xstatus, xsoft = xvfb.stop()
        assert xsoft, 'Xvfb needed SIGKILL'
        tap.diag('Xvfb (pid %d) exit status %s' % (xpid, xstatus))
        for c in state['clients']:
            rc = c.quit()
            assert rc == 0, '%s exited with %s\n%s' % (c.name, rc, c.diagnostics())

    tap.run('private Prosody up, %s registered' % ', '.join(USERS), start_bed)
    tap.run('alice and bob (smmp-client, plugin loaded) in %s' % ROOM, headless_in_room,
            diagnostics=diag)
    tap.run('Pidgin (Xvfb, plugin from its config dir) signs on and joins; its room window',
            pidgin_joins, diagnostics=diag)
    tap.run('/smmp start typed in Pidgin: session up at all three', start_session,
            diagnostics=diag)
    tap.run('a message typed in Pidgin arrives decrypted at alice and bob', pidgin_talks,
            diagnostics=diag)
    tap.run('alice\'s and bob\'s messages reach Pidgin decrypted (its chat log)', others_talk,
            diagnostics=diag)
    tap.run('Pidgin\'s chat log: each message once, no armour, no notices', log_clean,
            diagnostics=diag)
    tap.run('/smmp status typed in Pidgin changes the room window', status, diagnostics=diag)
    tap.run('screenshots of the room window are PNGs of the window, not blank', screenshots,
            diagnostics=diag)
    tap.run('no armour in alice\'s and bob\'s windows; the server stored only armour',
            no_armour_elsewhere, diagnostics=diag)
    tap.run('Pidgin and Xvfb stop on SIGTERM to their PIDs', stop, diagnostics=diag)


if __name__ == '__main__':
    sys.exit(main())
