"""The integration test bed: a private Prosody, headless libpurple clients
(smmp-client) and raw XMPP clients (slixmpp), all on 127.0.0.1.

A test imports this module (it sits next to the test) and works inside one
Bed, which owns a temporary directory and everything started in it:

    import harness

    with harness.Bed('my-test') as bed:          # Prosody is up
        bed.register('alice', 'bob')             # prosodyctl register
        alice, bob = bed.start_clients(['alice', 'bob'])   # signed on
        room = harness.room_jid('r1')
        for c in (alice, bob):
            c.join(room)
        alice.say('hi')
        bob.wait_write(text='hi', who='alice')
        raw = bed.raw_client('bob')              # slixmpp, for odd stanzas
        ...
    # clients quit, Prosody is stopped (SIGTERM, waited for), dir removed

Whatever happens (an assertion, a timeout, Ctrl-C, SIGTERM), leaving the
`with` block stops every process this module started; an atexit hook does
the same for a Bed left open.  If the test process is killed outright,
Prosody gets SIGTERM (setpriv --pdeathsig) and the clients quit at the end
of their input.  Waits never sleep for a fixed time: they wait for an
event, with a timeout (SMMP_XMPP_TIMEOUT seconds, default 30), and fail at
once when the awaited client has exited.

Environment: SMMP_CLIENT (the built smmp-client), PROSODY, PROSODYCTL
(default: from PATH), SMMP_XMPP_KEEP=1 keeps the temporary directory,
SMMP_XMPP_PROSODY_LOG=debug logs every stanza in prosody.log.

Only the standard library here; slixmpp is imported when a raw client is
first asked for.
"""

import asyncio
import atexit
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as xml_escape, quoteattr

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get('SMMP_XMPP_SRCDIR', HERE)
DOMAIN = 'localhost'
MUC_DOMAIN = 'conference.localhost'
TIMEOUT = float(os.environ.get('SMMP_XMPP_TIMEOUT', '30'))


class BedError(Exception):
    """The bed itself failed: a process did not start, or died."""


class WaitTimeout(AssertionError):
    """An awaited event did not come in time."""


def room_jid(room):
    """'r1' -> 'r1@conference.localhost'; a full JID is returned as is."""
    return room if '@' in room else '%s@%s' % (room, MUC_DOMAIN)


def _now():
    # The clients stamp their events with CLOCK_MONOTONIC in microseconds;
    # time.monotonic() reads the same clock.
    return time.monotonic()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _port_open(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1):
            return True
    except OSError:
        return False


# Prosody dies with the test: a test killed by its runner (SIGKILL after a
# timeout) must not leave it listening.  The signal comes when the thread
# that started Prosody ends, so start a Bed from the main thread.  Clients
# need no such help: they quit at the end of their input, which is when
# the test process goes away.
_SETPRIV = shutil.which('setpriv')


def _pdeathsig(argv):
    if _SETPRIV is None:
        return argv
    return [_SETPRIV, '--pdeathsig', 'TERM', '--'] + list(argv)


# Every process started here, so that nothing outlives the test.
_live = set()
_live_lock = threading.Lock()


def _track(proc):
    with _live_lock:
        _live.add(proc)


def _untrack(proc):
    with _live_lock:
        _live.discard(proc)


def stop_process(proc, timeout=10):
    """SIGTERM to the child's PID, wait; SIGKILL if it does not go.
    Returns (exit status, whether it ended without the SIGKILL)."""
    soft = True
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            soft = False
    _untrack(proc)
    return proc.returncode, soft


def _stop_process(proc, timeout=10):
    return stop_process(proc, timeout)[0]


def _kill_leftovers():
    with _live_lock:
        procs = list(_live)
    for p in procs:
        _stop_process(p, timeout=5)


atexit.register(_kill_leftovers)


def _sigterm_to_exit(signum, frame):
    # Turn SIGTERM (meson's timeout, a kill) into SystemExit so that `with`
    # blocks and atexit hooks run and stop what we started.
    raise SystemExit(128 + signum)


if threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _sigterm_to_exit)


def _tail(path, lines=20):
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return ''
    text = data.decode('utf-8', 'replace').splitlines()
    return '\n'.join(text[-lines:])


# ---------------------------------------------------------------------------
# Prosody


class Prosody:
    """A Prosody of our own, configured by tests/xmpp/prosody.cfg.lua, with
    its data, pid file and log in `directory`."""

    def __init__(self, directory, config=None, log_level=None):
        self.dir = directory
        self.config = config or os.path.join(SRCDIR, 'prosody.cfg.lua')
        # "debug" or the default "info": start() reads the info lines.
        level = log_level or os.environ.get('SMMP_XMPP_PROSODY_LOG')
        self.log_level = 'debug' if level == 'debug' else None
        self.prosody = os.environ.get('PROSODY') or shutil.which('prosody') or 'prosody'
        self.prosodyctl = (os.environ.get('PROSODYCTL') or shutil.which('prosodyctl')
                           or 'prosodyctl')
        self.port = None
        self.proc = None
        self.log = os.path.join(self.dir, 'prosody.log')
        self.out = os.path.join(self.dir, 'prosody.out')
        self.data = os.path.join(self.dir, 'data')
        os.makedirs(os.path.join(self.dir, 'certs'), mode=0o700, exist_ok=True)
        os.makedirs(self.data, mode=0o700, exist_ok=True)

    def env(self):
        env = dict(os.environ)
        env['SMMP_PROSODY_DIR'] = self.dir
        env['SMMP_PROSODY_PORT'] = str(self.port)
        if self.log_level:
            env['SMMP_PROSODY_LOG'] = self.log_level
        return env

    def start(self, timeout=15):
        """Start on a free port; returns once Prosody listens on it."""
        # Another process may take the free port before Prosody binds it.
        # Prosody then keeps running without a client port (and a connect
        # test would reach the other process), so its log decides.
        for _attempt in range(5):
            self.port = _free_port()
            offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
            with open(self.out, 'ab') as out:
                self.proc = subprocess.Popen(
                    _pdeathsig([self.prosody, '--config', self.config, '-F']),
                    env=self.env(), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, cwd=self.dir)
            _track(self.proc)
            listening = "Activated service 'c2s' on [127.0.0.1]:%d" % self.port
            refused = ('Failed to open server port %d' % self.port,
                       "Activated service 'c2s' on no ports")
            deadline = _now() + timeout
            while _now() < deadline and self.proc.poll() is None:
                log = self._log_since(offset)
                if listening in log and _port_open(self.port):
                    return self
                if any(r in log for r in refused):
                    break
                # Prosody takes 0.1-0.5 s to listen: look again shortly.
                time.sleep(0.02)
            log = self._log_since(offset)
            if self.proc.poll() is None and not any(r in log for r in refused):
                self.stop()
                raise BedError('prosody does not listen on 127.0.0.1:%d after %g s:\n%s'
                               % (self.port, timeout, self.diagnostics()))
            status = self.stop()
            if not any(r in log for r in refused):
                raise BedError('prosody exited with status %s:\n%s'
                               % (status, self.diagnostics()))
        raise BedError('prosody found no free port in 5 tries:\n%s' % self.diagnostics())

    def _log_since(self, offset):
        try:
            with open(self.log, 'rb') as f:
                f.seek(offset)
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def stop(self):
        """SIGTERM and wait (Prosody takes 20-55 ms).  Idempotent."""
        if self.proc is not None:
            status = _stop_process(self.proc)
            self.proc = None
            return status
        return None

    def register(self, *users, password='pw'):
        """Create accounts USER@localhost with prosodyctl (works while
        Prosody runs).  Several users are registered at once."""
        procs = []
        for user in users:
            p = subprocess.Popen(
                [self.prosodyctl, '--config', self.config, 'register', user, DOMAIN, password],
                env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, cwd=self.dir)
            procs.append((user, p))
        for user, p in procs:
            out, _ = p.communicate(timeout=30)
            if p.returncode != 0:
                raise BedError('prosodyctl register %s failed (%d): %s'
                               % (user, p.returncode, out.decode('utf-8', 'replace')))

    def muc_log_path(self, room):
        node = room_jid(room).split('@', 1)[0]
        host = MUC_DOMAIN.replace('.', '%2e')
        return os.path.join(self.data, host, 'muc_log', node + '.list')

    def muc_log(self, room):
        """What Prosody archived for `room`: a list of records, oldest first,
        each {'key', 'when', 'with', 'stanza'} with `stanza` an Element."""
        try:
            with open(self.muc_log_path(room), 'rb') as f:
                data = f.read()
        except FileNotFoundError:
            return []
        return parse_prosody_list(data)

    def diagnostics(self, lines=20):
        return '--- prosody.log (tail)\n%s\n--- prosody stdout/stderr (tail)\n%s' % (
            _tail(self.log, lines), _tail(self.out, lines))


# ---------------------------------------------------------------------------
# Prosody's internal storage: Lua table syntax


class Element:
    """An XML element as Prosody stores it: name, attrs, children (Elements
    and strings)."""

    def __init__(self, name, attrs=None, children=None):
        self.name = name
        self.attrs = attrs or {}
        self.children = children or []

    def find(self, name, xmlns=None):
        for c in self.children:
            if isinstance(c, Element) and c.name == name and \
                    (xmlns is None or c.attrs.get('xmlns') == xmlns):
                return c
        return None

    def text(self):
        return ''.join(c if isinstance(c, str) else c.text() for c in self.children)

    def child_text(self, name, xmlns=None):
        c = self.find(name, xmlns)
        return None if c is None else c.text()

    def to_xml(self):
        attrs = ''.join(' %s=%s' % (k, quoteattr(v)) for k, v in sorted(self.attrs.items()))
        inner = ''.join(xml_escape(c) if isinstance(c, str) else c.to_xml()
                        for c in self.children)
        return '<%s%s>%s</%s>' % (self.name, attrs, inner, self.name)

    def __repr__(self):
        return 'Element(%s)' % self.to_xml()


class _LuaTable:
    def __init__(self):
        self.array = []
        self.hash = {}


class _LuaParser:
    """Just what util.serialization writes: tables, strings (with Lua
    escapes; bytes >= 127 as \\ddd), numbers, booleans, nil."""

    ESCAPES = {ord('a'): 7, ord('b'): 8, ord('f'): 12, ord('n'): 10, ord('r'): 13,
               ord('t'): 9, ord('v'): 11, ord('\\'): 92, ord('"'): 34, ord("'"): 39,
               ord('\n'): 10}

    def __init__(self, data):
        self.s = data
        self.i = 0

    def error(self, what):
        raise ValueError('%s at byte %d: %r' % (what, self.i, self.s[self.i:self.i + 40]))

    def ws(self):
        s, n = self.s, len(self.s)
        while self.i < n:
            if s[self.i] in b' \t\r\n':
                self.i += 1
            elif s.startswith(b'--', self.i):
                end = s.find(b'\n', self.i)
                self.i = n if end < 0 else end + 1
            else:
                break

    def at_end(self):
        self.ws()
        return self.i >= len(self.s)

    def expect(self, token):
        self.ws()
        if not self.s.startswith(token, self.i):
            self.error('expected %r' % token)
        self.i += len(token)

    def string(self):
        quote = self.s[self.i]
        self.i += 1
        out = bytearray()
        s = self.s
        while True:
            if self.i >= len(s):
                self.error('unterminated string')
            c = s[self.i]
            if c == quote:
                self.i += 1
                return out.decode('utf-8', 'replace')
            if c != 92:  # backslash
                out.append(c)
                self.i += 1
                continue
            e = s[self.i + 1]
            if e in self.ESCAPES:
                out.append(self.ESCAPES[e])
                self.i += 2
            elif 48 <= e <= 57:
                j = self.i + 1
                while j < self.i + 4 and 48 <= s[j] <= 57:
                    j += 1
                out.append(int(s[self.i + 1:j]))
                self.i = j
            elif e == ord('x'):
                out.append(int(s[self.i + 2:self.i + 4], 16))
                self.i += 4
            elif e == ord('z'):
                self.i += 2
                while s[self.i] in b' \t\r\n':
                    self.i += 1
            elif e == ord('u'):
                end = s.index(b'}', self.i)
                out += chr(int(s[self.i + 3:end], 16)).encode('utf-8')
                self.i = end + 1
            else:
                self.error('unknown escape')

    def value(self):
        self.ws()
        s = self.s
        c = s[self.i:self.i + 1]
        if c == b'{':
            return self.table()
        if c in (b'"', b"'"):
            return self.string()
        for word, val in ((b'true', True), (b'false', False), (b'nil', None),
                          (b'(1/0)', float('inf')), (b'(-1/0)', float('-inf')),
                          (b'(0/0)', float('nan'))):
            if s.startswith(word, self.i):
                self.i += len(word)
                return val
        j = self.i
        while j < len(s) and s[j:j + 1] in b'+-0123456789.eExXabcdefABCDEF':
            j += 1
        token = s[self.i:j].decode('ascii')
        if not token:
            self.error('unexpected')
        self.i = j
        try:
            return int(token, 0)
        except ValueError:
            return float(token)

    def table(self):
        self.expect(b'{')
        t = _LuaTable()
        while True:
            self.ws()
            s = self.s
            if s.startswith(b'}', self.i):
                self.i += 1
                return t
            if s.startswith(b'[', self.i):
                self.i += 1
                key = self.value()
                self.expect(b']')
                self.expect(b'=')
                t.hash[key] = self.value()
            else:
                j = self.i
                while j < len(s) and (chr(s[j]).isalnum() or s[j] == 95):
                    j += 1
                rest = s[j:].lstrip()
                if j > self.i and rest.startswith(b'=') and not rest.startswith(b'=='):
                    key = s[self.i:j].decode('ascii')
                    self.i = j
                    self.expect(b'=')
                    t.hash[key] = self.value()
                else:
                    t.array.append(self.value())
            self.ws()
            if s.startswith((b';', b','), self.i):
                self.i += 1


def _to_element(t):
    children = [_to_element(c) if isinstance(c, _LuaTable) else c for c in t.array]
    attrs = t.hash.get('attr')
    return Element(t.hash.get('name'), dict(attrs.hash) if attrs else {}, children)


def parse_prosody_list(data):
    """Parse a Prosody internal-storage archive (`item({...});` repeated)
    into [{'key', 'when', 'with', 'stanza': Element}]."""
    p = _LuaParser(data)
    records = []
    while not p.at_end():
        start = p.i
        try:
            p.expect(b'item(')
            t = p.table()
            p.expect(b')')
            p.ws()
            if p.s.startswith(b';', p.i):
                p.i += 1
        except (ValueError, IndexError):
            # Prosody appends an item with one write; a read racing it may
            # see the start of the last one only.
            if b'item(' in data[start + 5:]:
                raise
            break
        records.append({'key': t.hash.get('key'), 'when': t.hash.get('when'),
                        'with': t.hash.get('with'), 'stanza': _to_element(t)})
    return records


def stored_messages(records):
    """(nick, body) of every archived groupchat message with a body."""
    out = []
    for r in records:
        st = r['stanza']
        body = st.child_text('body')
        if st.name == 'message' and body is not None:
            out.append((st.attrs.get('from', '').partition('/')[2], body))
    return out


# ---------------------------------------------------------------------------
# smmp-client


def _match(ev, fields):
    for k, v in fields.items():
        if callable(v):
            if not v(ev.get(k)):
                return False
        elif ev.get(k) != v:
            return False
    return True


def _fatal_error(ev):
    return ev.get('ev') == 'error'


def private_env(base_dir, gstreamer=False, unset=()):
    """The environment of a libpurple program (smmp-client, Finch, Pidgin)
    of a test: a private HOME and a private 0700 XDG_RUNTIME_DIR under
    `base_dir` (libpurple's media stack, GStreamer and PulseAudio, writes
    there); no desktop session: no display, no session bus (libpurple would
    otherwise register itself on the tester's bus); English texts ("alice
    entered the room.").  `unset` names more variables to drop."""
    home = os.path.join(base_dir, 'home')
    run = os.path.join(base_dir, 'run')
    for d in (home, run):
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)
    env = dict(os.environ)
    for var in ('DISPLAY', 'WAYLAND_DISPLAY', 'DBUS_STARTER_ADDRESS', 'DBUS_STARTER_BUS_TYPE',
                'LANGUAGE') + tuple(unset):
        env.pop(var, None)
    env.update({
        'HOME': home,
        'XDG_RUNTIME_DIR': run,
        'XDG_CONFIG_HOME': os.path.join(home, '.config'),
        'XDG_CACHE_HOME': os.path.join(home, '.cache'),
        'XDG_DATA_HOME': os.path.join(home, '.local', 'share'),
        'DBUS_SESSION_BUS_ADDRESS': 'unix:path=' + os.path.join(run, 'no-bus'),
        'LANG': 'C.UTF-8',
        'LC_ALL': 'C.UTF-8',
    })
    if not gstreamer:
        # Core init starts GStreamer, which builds a plugin registry in the
        # (new, empty) HOME: 0.6-1.6 s per program.  Chat needs no media,
        # so it gets no plugins to scan.
        empty = os.path.join(base_dir, 'gst-no-plugins')
        os.makedirs(empty, exist_ok=True)
        env['GST_PLUGIN_SYSTEM_PATH_1_0'] = empty
        env['GST_PLUGIN_PATH_1_0'] = empty
        env['GST_REGISTRY_1_0'] = os.path.join(base_dir, 'gst-registry.bin')
    return env


_UI_SETTINGS = {'gnt': 'gnt-purple', 'gtk': 'gtk-gaim'}

_ACCOUNTS_XML = """<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-jabber</protocol>
  <name>%(name)s</name>
  <password>%(password)s</password>
  <settings>
   <setting name='connect_server' type='string'>127.0.0.1</setting>
   <setting name='port' type='int'>%(port)d</setting>
   <setting name='connection_security' type='string'>opportunistic_tls</setting>
   <setting name='auth_plain_in_clear' type='bool'>1</setting>
  </settings>
  <settings ui='%(ui)s'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
"""

_BLIST_XML = """<?xml version='1.0' encoding='UTF-8' ?>
<purple version='1.0'>
 <blist>
  <group name='Chats'>
   <chat proto='prpl-jabber' account=%(account)s>
    <component name='room'>%(room)s</component>
    <component name='server'>%(server)s</component>
    <component name='handle'>%(nick)s</component>
    <setting name='%(toolkit)s-autojoin' type='bool'>1</setting>
   </chat>
  </group>
 </blist>
</purple>
"""


def seed_purple_ui(cfg, toolkit, account, port, room_node, nick, plugin_so, password='pw'):
    """A libpurple UI's config dir as Finch (`toolkit` 'gnt') or Pidgin
    ('gtk') reads it at start: `account` signs on at once and joins
    `room_node` on the MUC service as `nick`; `plugin_so` is linked into
    `cfg`/plugins.  Returns the linked plugin's path, for the UI's list of
    loaded plugins in the prefs.xml the caller writes."""
    os.makedirs(os.path.join(cfg, 'plugins'), mode=0o700, exist_ok=True)
    plugin = os.path.join(cfg, 'plugins', os.path.basename(plugin_so))
    os.symlink(os.path.abspath(plugin_so), plugin)
    files = {
        'accounts.xml': _ACCOUNTS_XML % {
            'name': xml_escape(account), 'password': xml_escape(password), 'port': port,
            'ui': _UI_SETTINGS[toolkit]},
        'blist.xml': _BLIST_XML % {
            'account': quoteattr(account), 'room': xml_escape(room_node),
            'server': xml_escape(MUC_DOMAIN), 'nick': xml_escape(nick), 'toolkit': toolkit},
    }
    for name, text in files.items():
        with open(os.path.join(cfg, name), 'w', encoding='utf-8') as f:
            f.write(text)
    return plugin


class Client:
    """One smmp-client process: a libpurple account in its own directory.

    Events are collected by a reader thread into `events` (dicts, in the
    order the client wrote them, each with a local '_rx' receive time);
    waits look at that list, so nothing is missed between commands."""

    def __init__(self, bed, user, password='pw', name=None, plugins=(), plugin_dir=None,
                 resource=None, args=(), env=None):
        self.bed = bed
        self.user = user
        self.password = password
        self.name = name or user
        self.plugins = list(plugins)
        self.plugin_dir = plugin_dir
        self.resource = resource
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.dir = os.path.join(bed.dir, 'clients', self.name)
        self.purple_dir = os.path.join(self.dir, 'purple')
        self.stderr_path = os.path.join(self.dir, 'client.log')
        self.events = []
        self.cond = threading.Condition()
        self.eof = False
        self.proc = None
        self.reader = None
        self.returncode = None
        self.start_index = 0
        self.current_room = None

    # -- process

    def env(self):
        """A private HOME and a private 0700 XDG_RUNTIME_DIR: libpurple's
        media stack (GStreamer, PulseAudio) writes there.  No desktop
        session: no display, no session bus (libpurple would otherwise
        register itself on the tester's bus)."""
        env = private_env(self.dir, gstreamer=self.bed.gstreamer,
                          unset=('XDG_CONFIG_DIRS', 'XDG_DATA_DIRS'))
        env.update(self.extra_env)
        return env

    def argv(self):
        argv = [self.bed.client_path, '--dir', self.purple_dir,
                '--port', str(self.bed.prosody.port),
                '--user', self.user, '--password', self.password,
                '--plugin-dir', self.plugin_dir or 'none']
        for p in self.plugins:
            argv += ['--plugin', p]
        if self.resource:
            argv += ['--resource', self.resource]
        return argv + self.args

    def start(self):
        """Start the process (again, after quit(): same dir, same saved
        state).  Returns at once; see wait_ready()/wait_signed_on()."""
        if self.proc is not None and self.proc.poll() is None:
            raise BedError('%s is already running' % self.name)
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        with self.cond:
            self.eof = False
            self.returncode = None
            self.start_index = len(self.events)
        with open(self.stderr_path, 'ab') as err:
            err.write(b'=== start %s\n' % ' '.join(self.argv()).encode())
            err.flush()
            self.proc = subprocess.Popen(
                self.argv(), env=self.env(), cwd=self.dir,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        _track(self.proc)
        self.reader = threading.Thread(target=self._read, args=(self.proc,),
                                       name='read-' + self.name, daemon=True)
        self.reader.start()
        return self

    def _read(self, proc):
        for raw in proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                ev = {'ev': 'garbage', 'line': raw.decode('utf-8', 'replace')}
            ev['_rx'] = _now()
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()
        proc.stdout.close()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send(self, line):
        """Send one command line."""
        if '\n' in line or '\r' in line:
            raise ValueError('one command per line: %r' % line)
        if not self.running():
            raise BedError('%s is not running (exit %s)\n%s'
                           % (self.name, self.proc and self.proc.poll(), self.diagnostics()))
        try:
            self.proc.stdin.write(line.encode('utf-8') + b'\n')
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise BedError('%s closed its input\n%s' % (self.name, self.diagnostics()))

    def quit(self, timeout=15):
        """Ask the client to sign off and exit; returns its exit status."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'quit\n')
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        return self._reap()

    def kill(self, sig=signal.SIGKILL):
        """End the process abruptly (a crash, a pulled plug)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self._reap()

    def _reap(self):
        self.returncode = _stop_process(self.proc)
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass
        if self.reader is not None:
            self.reader.join(timeout=10)
        return self.returncode

    # -- waiting

    def mark(self):
        """The number of events so far: pass as `since` to wait for newer."""
        with self.cond:
            return len(self.events)

    def wait(self, pred, timeout=None, since=0, what=None, fail=_fatal_error):
        """The first event (from index `since`) for which pred(ev) holds.
        Raises WaitTimeout, or BedError when the client exits first or
        reports an event for which fail(ev) holds after the wait began."""
        timeout = TIMEOUT if timeout is None else timeout
        deadline = _now() + timeout
        with self.cond:
            began = len(self.events)
            i = since
            while True:
                while i < len(self.events):
                    ev = self.events[i]
                    if pred(ev):
                        return ev
                    if fail is not None and i >= began and fail(ev):
                        raise BedError('%s: %s while waiting for %s\n%s'
                                       % (self.name, _show(ev), what or pred, self.diagnostics()))
                    i += 1
                if self.eof:
                    raise BedError('%s exited while waiting for %s\n%s'
                                   % (self.name, what or pred, self.diagnostics()))
                left = deadline - _now()
                if left <= 0:
                    raise WaitTimeout('%s: no %s within %g s\n%s'
                                      % (self.name, what or pred, timeout, self.diagnostics()))
                self.cond.wait(left)

    def wait_until(self, cond, timeout=None, what=None):
        """Wait until cond() (evaluated under the event lock, after every
        new event) is true; returns its value."""
        timeout = TIMEOUT if timeout is None else timeout
        deadline = _now() + timeout
        with self.cond:
            while True:
                value = cond()
                if value:
                    return value
                if self.eof:
                    raise BedError('%s exited while waiting for %s\n%s'
                                   % (self.name, what or cond, self.diagnostics()))
                left = deadline - _now()
                if left <= 0:
                    raise WaitTimeout('%s: not %s within %g s\n%s'
                                      % (self.name, what or cond, timeout, self.diagnostics()))
                self.cond.wait(left)

    def wait_event(self, name, /, since=0, timeout=None, **fields):
        """The first event `name` whose fields equal (or satisfy, when
        callables) the given ones."""
        return self.wait(lambda e: e.get('ev') == name and _match(e, fields), timeout=timeout,
                         since=since, what='%s %s' % (name, fields or ''))

    def wait_ready(self, timeout=None):
        return self.wait_event('ready', since=self.start_index, timeout=timeout)

    def wait_signed_on(self, timeout=None):
        return self.wait_event('signed-on', since=self.start_index, timeout=timeout)

    def writes(self, since=0, conv=None, **fields):
        """The write events (lines shown) so far, optionally filtered."""
        with self.cond:
            evs = list(self.events[since:])
        return [e for e in evs if e.get('ev') == 'write'
                and (conv is None or e.get('conv') == conv) and _match(e, fields)]

    def wait_write(self, text=None, who=None, flags=(), conv=None, since=0, timeout=None,
                   exact=True):
        """The first line shown whose plain text is `text` (or contains it
        when exact=False; or for which text(plain) holds when callable),
        from `who`, with all `flags`."""
        def pred(e):
            if e.get('ev') != 'write':
                return False
            if conv is not None and e.get('conv') != conv:
                return False
            if who is not None and e.get('who') != who:
                return False
            if not set(flags) <= set(e.get('flags', ())):
                return False
            if text is not None:
                plain = e.get('plain') or ''
                if callable(text):
                    return text(plain)
                return plain == text if exact else text in plain
            return True
        return self.wait(pred, since=since, timeout=timeout,
                         what='a line %r from %s with %s' % (text, who or 'anyone', list(flags)))

    def count_writes(self, text, who=None, flags=(), conv=None, since=0):
        return sum(1 for e in self.writes(since=since, conv=conv)
                   if e.get('plain') == text and (who is None or e.get('who') == who)
                   and set(flags) <= set(e.get('flags', ())))

    def members(self, room):
        """Who the room window lists, from the events: the occupants at
        'joined', plus later joins, minus leaves.  Empty before joining or
        after leaving.  Call with the lock held or from wait_until."""
        room = room_jid(room)
        names = set()
        for e in self.events:
            ev = e.get('ev')
            if e.get('room') != room:
                continue
            if ev == 'joined':
                names = set(e.get('occupants', ()))
            elif ev == 'occupant-join':
                names.add(e['nick'])
            elif ev == 'occupant-leave':
                names.discard(e['nick'])
            elif ev == 'left':
                names = set()
        return names

    def wait_members(self, room, nicks, timeout=None):
        want = set(nicks)
        return self.wait_until(lambda: self.members(room) == want, timeout=timeout,
                               what='room %s listing %s' % (room_jid(room), sorted(want)))

    # -- commands

    def join(self, room, nick=None, wait=True, timeout=None):
        room = room_jid(room)
        since = self.mark()
        self.send('join %s %s' % (room, nick or self.user))
        self.current_room = room
        if wait:
            return self.wait_event('joined', since=since, timeout=timeout, room=room)
        return None

    def say(self, text):
        """Type `text` into the current room ('/...' runs a command)."""
        self.send('say ' + text)

    def leave(self, room=None):
        self.send('leave' + (' ' + room_jid(room) if room else ''))

    def disconnect(self, timeout=None):
        """Drop the connection (as a network failure would, without the
        failure); returns the signed-off event."""
        since = self.mark()
        self.send('disconnect')
        return self.wait_event('signed-off', since=since, timeout=timeout)

    def connect(self, timeout=None):
        """Sign on again after disconnect(); rooms must be joined again."""
        since = self.mark()
        self.send('connect')
        return self.wait_event('signed-on', since=since, timeout=timeout)

    def ping(self, timeout=None):
        """Returns once the client has handled every earlier command."""
        token = 'p%d' % next(_tokens)
        since = self.mark()
        self.send('ping ' + token)
        return self.wait_event('pong', since=since, timeout=timeout, token=token)

    # -- reporting

    def diagnostics(self, events=10, lines=15):
        with self.cond:
            tail = self.events[-events:]
        return '--- %s: last events\n%s\n--- %s: stderr (tail)\n%s' % (
            self.name, '\n'.join(_show(e) for e in tail), self.name,
            _tail(self.stderr_path, lines))


_tokens = itertools.count(1)


def _show(ev):
    return json.dumps({k: v for k, v in ev.items() if k != '_rx'}, ensure_ascii=False)


# ---------------------------------------------------------------------------
# A raw XMPP client (slixmpp), for stanzas no libpurple client would send


class RawClient:
    """A slixmpp client on its own thread and event loop, driven with plain
    blocking calls.  Every message stanza it receives is kept in
    `messages` as a dict: from, nick (the resource of a room JID), type,
    body (None without one), delayed (bool), xml (the whole stanza) and
    t (time.monotonic() on arrival).  MAM results are kept apart."""

    def __init__(self, bed, user, password='pw', resource='raw'):
        import slixmpp  # only tests that use a raw client need slixmpp
        self._slixmpp = slixmpp
        self.bed = bed
        self.jid = '%s@%s/%s' % (user, DOMAIN, resource)
        self.password = password
        self.messages = []
        self.presences = []
        self.cond = threading.Condition()
        self._mam = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name='raw-' + user, daemon=True)
        self.thread.start()
        try:
            self._call(self._connect(), timeout=TIMEOUT)
        except BaseException:
            self.close()
            raise

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _call(self, coro, timeout=None):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(TIMEOUT if timeout is None else timeout)

    async def _connect(self):
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import StanzaPath
        x = self._slixmpp.ClientXMPP(self.jid, self.password)
        x.loop = self.loop
        self.xmpp = x
        started = self.loop.create_future()

        def done(result):
            if not started.done():
                started.set_result(result)

        x.add_event_handler('session_start', lambda _e: done(None))
        x.add_event_handler('failed_auth', lambda _e: done('authentication failed'))
        x.add_event_handler('connection_failed', lambda e: done('connection failed: %s' % e))
        x.register_handler(Callback('raw-message', StanzaPath('message'), self._on_message))
        x.register_handler(Callback('raw-presence', StanzaPath('presence'), self._on_presence))
        # Straight to 127.0.0.1 (no DNS for "localhost", no IPv6 try), no TLS.
        # slixmpp resolves default_domain even when given an address, and
        # takes the port of that answer from default_port.
        x.use_ipv6 = False
        x.default_domain = '127.0.0.1'
        x.default_port = self.bed.prosody.port
        x.connect(address=('127.0.0.1', self.bed.prosody.port), use_ssl=False,
                  force_starttls=False, disable_starttls=True)
        error = await started
        if error:
            raise BedError('raw client %s: %s' % (self.jid, error))
        x.send_presence()

    def _on_message(self, msg):
        xml = msg.xml
        result = xml.find('{urn:xmpp:mam:2}result')
        if result is not None:
            fwd = result.find('{urn:xmpp:forward:0}forwarded')
            inner = fwd.find('{jabber:client}message') if fwd is not None else None
            if inner is not None:
                entry = self._describe(inner)
                entry['id'] = result.get('id')
                self._mam.setdefault(result.get('queryid'), []).append(entry)
            return
        entry = self._describe(xml)
        with self.cond:
            self.messages.append(entry)
            self.cond.notify_all()

    def _on_presence(self, pres):
        with self.cond:
            self.presences.append({'from': str(pres['from']), 'type': pres['type'],
                                   'xml': ET.tostring(pres.xml, encoding='unicode'),
                                   't': _now()})
            self.cond.notify_all()

    @staticmethod
    def _describe(xml):
        body = xml.find('{jabber:client}body')
        sender = xml.get('from', '')
        return {'from': sender, 'nick': sender.partition('/')[2], 'type': xml.get('type'),
                'body': body.text or '' if body is not None else None,
                'delayed': xml.find('{urn:xmpp:delay}delay') is not None,
                'xml': ET.tostring(xml, encoding='unicode'), 't': _now()}

    # -- the room

    def join(self, room, nick, history=0, timeout=None):
        """Enter `room` as `nick`; returns once the room has sent our own
        presence (status 110).  history=None: the room's default replay."""
        room = room_jid(room)
        hist = '' if history is None else "<history maxstanzas='%d'/>" % history
        me = '%s/%s' % (room, nick)
        with self.cond:
            since = len(self.presences)
        self.send_xml("<presence to=%s><x xmlns='http://jabber.org/protocol/muc'>%s</x>"
                      "</presence>" % (quoteattr(me), hist))
        p = self.wait_presence(
            lambda p: p['from'] == me and (p['type'] == 'error' or 'code="110"' in p['xml']),
            since=since, timeout=timeout)
        if p['type'] == 'error':
            raise BedError('raw client %s could not join %s: %s' % (self.jid, me, p['xml']))
        return p

    def leave(self, room, nick):
        self.send_xml("<presence type='unavailable' to=%s/>"
                      % quoteattr('%s/%s' % (room_jid(room), nick)))

    def send_body(self, room, body, extra_xml=''):
        """A groupchat message with this exact body text (escaped as XML
        text, not interpreted) plus optional extra child elements."""
        self.send_xml("<message to=%s type='groupchat'><body>%s</body>%s</message>"
                      % (quoteattr(room_jid(room)), xml_escape(body), extra_xml))

    def send_xml(self, xml):
        """Send any stanza, as given (it must be well-formed)."""
        self.loop.call_soon_threadsafe(self.xmpp.send_raw, xml)

    def wait_message(self, pred, since=0, timeout=None):
        return self._wait(self.messages, pred, since, timeout, 'message')

    def wait_presence(self, pred, since=0, timeout=None):
        return self._wait(self.presences, pred, since, timeout, 'presence')

    def _wait(self, items, pred, since, timeout, what):
        timeout = TIMEOUT if timeout is None else timeout
        deadline = _now() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(items):
                    if pred(items[i]):
                        return items[i]
                    i += 1
                left = deadline - _now()
                if left <= 0:
                    raise WaitTimeout('raw client %s: no matching %s within %g s; last: %s'
                                      % (self.jid, what, timeout, items[-3:]))
                self.cond.wait(left)

    # -- the room's archive

    def mam(self, room, page=50, timeout=None):
        """The room's archive by XEP-0313 (every page): a list of dicts as
        in `messages`, plus 'id' (the archive id), oldest first."""
        return self._call(self._mam_query(room_jid(room), page), timeout=timeout)

    async def _mam_query(self, room, page):
        out = []
        after = None
        while True:
            qid = 'q%d' % next(_tokens)
            rsm = '<max>%d</max>' % page + ('<after>%s</after>' % xml_escape(after)
                                              if after else '')
            iq = self.xmpp.make_iq_set(ito=room)
            iq.append(ET.fromstring(
                "<query xmlns='urn:xmpp:mam:2' queryid='%s'>"
                "<set xmlns='http://jabber.org/protocol/rsm'>%s</set></query>" % (qid, rsm)))
            reply = await iq.send(timeout=TIMEOUT)
            # The results precede the reply on the stream, so they are in.
            got = self._mam.pop(qid, [])
            out += got
            fin = reply.xml.find('{urn:xmpp:mam:2}fin')
            if fin is None or fin.get('complete') in ('true', '1') or not got:
                return out
            last = fin.find('{http://jabber.org/protocol/rsm}set/'
                            '{http://jabber.org/protocol/rsm}last')
            if last is None:
                return out
            after = last.text

    def close(self):
        """Disconnect and stop the thread.  Idempotent."""
        if self.loop.is_running():
            try:
                self._call(self._shutdown(), timeout=15)
            except Exception:  # stopping anyway
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive() and not self.loop.is_closed():
            self.loop.close()

    async def _shutdown(self):
        x = getattr(self, 'xmpp', None)
        if x is not None and x.transport is not None:
            try:
                x.disconnect(wait=2)
                await asyncio.wait_for(x.disconnected, 5)
            except (asyncio.TimeoutError, Exception):
                x.abort()
        # slixmpp leaves tasks behind (its send filter, a reconnect try):
        # cancelled and awaited here, not destroyed with the loop.
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---------------------------------------------------------------------------
# The bed


def default_client_path():
    path = os.environ.get('SMMP_CLIENT')
    if path:
        return path
    # By hand from a checkout with the usual build dir.
    guess = os.path.join(HERE, '..', '..', 'build', 'tests', 'xmpp', 'smmp-client')
    return os.path.abspath(guess)


class Bed:
    """One test's world: a temporary directory, a Prosody in it (started
    on entering the `with` block), the clients and raw clients made through
    it.  close() (on leaving the block) stops all of them."""

    def __init__(self, name='smmp-xmpp', client_path=None, keep=None, gstreamer=False,
                 start=True):
        self.dir = tempfile.mkdtemp(prefix=name + '-')
        os.chmod(self.dir, 0o700)
        self.client_path = client_path or default_client_path()
        self.keep = (os.environ.get('SMMP_XMPP_KEEP', '') not in ('', '0')) if keep is None \
            else keep
        self.gstreamer = gstreamer
        self.prosody = Prosody(os.path.join(self.dir, 'prosody'))
        self.clients = []
        self.raws = []
        self.closed = False
        self._start = start
        atexit.register(self.close)

    def __enter__(self):
        try:
            if self._start:
                self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def start(self):
        if not os.access(self.client_path, os.X_OK):
            raise BedError('no smmp-client at %s (set SMMP_CLIENT)' % self.client_path)
        self.prosody.start()
        return self

    def register(self, *users, password='pw'):
        self.prosody.register(*users, password=password)

    def client(self, user, start=True, **kwargs):
        """A Client (see Client for the arguments), started unless
        start=False.  Does not wait: see wait_ready()/wait_signed_on()."""
        c = Client(self, user, **kwargs)
        if any(o.name == c.name for o in self.clients):
            raise ValueError('two clients named %s: give name=' % c.name)
        self.clients.append(c)
        if start:
            c.start()
        return c

    def start_clients(self, users, wait='signed-on', **kwargs):
        """Start one client per user at once; wait until each is signed on
        (wait='ready': only started; None: no wait)."""
        clients = [self.client(u, **kwargs) for u in users]
        for c in clients:
            if wait == 'signed-on':
                c.wait_signed_on()
            elif wait == 'ready':
                c.wait_ready()
        return clients

    def raw_client(self, user, password='pw', resource='raw'):
        r = RawClient(self, user, password=password, resource=resource)
        self.raws.append(r)
        return r

    def muc_log(self, room):
        return self.prosody.muc_log(room)

    def diagnostics(self):
        parts = [self.prosody.diagnostics()]
        parts += [c.diagnostics() for c in self.clients]
        parts.append('--- files kept in %s' % self.dir if self.keep else '')
        return '\n'.join(parts)

    def close(self):
        """Quit clients (then kill what does not go), close raw clients,
        stop Prosody, remove the directory unless kept.  Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            for c in self.clients:
                if c.running():
                    try:
                        c.send('quit')
                    except BedError:
                        pass
            for c in self.clients:
                c.quit(timeout=10)
            for r in self.raws:
                try:
                    r.close()
                except Exception as e:  # still stop Prosody
                    print('# closing raw client %s: %s' % (r.jid, e), file=sys.stderr)
        finally:
            self.prosody.stop()
            if not self.keep:
                shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# TAP


class Tap:
    """Numbered steps in TAP.  After a failing step the rest are reported
    as skipped (they depend on it).  Diagnostics go out as '#' lines."""

    def __init__(self, steps):
        self.steps = steps
        self.n = 0
        self.failed = 0
        print('1..%d' % steps, flush=True)

    def diag(self, text):
        for line in str(text).splitlines() or ['']:
            print('# ' + line, flush=True)

    def run(self, desc, fn, *args, diagnostics=None):
        """Run fn(*args) as the next step; returns its value (None if it
        failed or was skipped)."""
        self.n += 1
        if self.failed:
            print('ok %d - %s # SKIP an earlier step failed' % (self.n, desc), flush=True)
            return None
        t0 = _now()
        try:
            value = fn(*args)
        except Exception as e:  # report, then skip the rest
            self.failed += 1
            print('not ok %d - %s' % (self.n, desc), flush=True)
            self.diag('%s: %s' % (type(e).__name__, e))
            if diagnostics is not None and not isinstance(e, (BedError, WaitTimeout)):
                try:
                    self.diag(diagnostics())
                except Exception:  # diagnostics are best effort
                    pass
            return None
        print('ok %d - %s (%.2f s)' % (self.n, desc, _now() - t0), flush=True)
        return value

    def skip(self, desc, why):
        self.n += 1
        print('ok %d - %s # SKIP %s' % (self.n, desc, why), flush=True)

    def done(self):
        if self.n != self.steps:
            self.failed += 1
            self.diag('planned %d steps, ran %d' % (self.steps, self.n))
        return 1 if self.failed else 0
