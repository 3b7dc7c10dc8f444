-- A private Prosody for the integration tests (tests/xmpp/harness.py).
--
-- One file serves every test run: where it lives and where it listens come
-- from the environment (Prosody 0.12 reads ENV_NAME as os.getenv("NAME")):
--
--   SMMP_PROSODY_DIR   its own directory: data/, certs/ (empty), pid, log
--   SMMP_PROSODY_PORT  the client port on 127.0.0.1
--   SMMP_PROSODY_LOG   optional log level (default "info"; "debug" shows
--                      every stanza)
--
-- Run it in the foreground, never against /etc/prosody:
--
--   SMMP_PROSODY_DIR=$d SMMP_PROSODY_PORT=$p prosody --config prosody.cfg.lua -F
--   SMMP_PROSODY_DIR=$d SMMP_PROSODY_PORT=$p prosodyctl --config prosody.cfg.lua \
--       register alice localhost pw

local dir = ENV_SMMP_PROSODY_DIR
local port = tonumber(ENV_SMMP_PROSODY_PORT)
if dir == nil or dir == "" or port == nil then
	error("tests/xmpp/prosody.cfg.lua needs SMMP_PROSODY_DIR and SMMP_PROSODY_PORT")
end

-- CI runs the tests as root; without this Prosody refuses to start and
-- prosodyctl switches to the "prosody" user, which cannot write our dir.
run_as_root = true

pidfile = dir .. "/prosody.pid"
data_path = dir .. "/data"
log = {
	{ levels = { min = ENV_SMMP_PROSODY_LOG or "info" }, to = "file",
	  filename = dir .. "/prosody.log" };
}

-- Loopback only, and only the client port: other Prosodies (other tests,
-- other checkouts) may run on this machine at the same time.
interfaces = { "127.0.0.1" }
c2s_ports = { port }
s2s_ports = { }
component_ports = { }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
modules_disabled = { "s2s" }

-- No TLS: an empty certificate directory means nothing to offer, so
-- clients stay in clear text and PLAIN must be allowed without it.
certificates = dir .. "/certs"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"

-- Accounts come from prosodyctl (or in-band registration by a raw client).
allow_registration = true
min_seconds_between_registrations = 0

modules_enabled = { "roster", "saslauth", "disco", "posix", "ping", "register", "mam" }

VirtualHost "localhost"

Component "conference.localhost" "muc"
	modules_enabled = { "muc_mam" }
	-- A new room must be usable at once: no locked room waiting for its
	-- owner to submit a configuration form.
	muc_room_locking = false
	restrict_room_creation = false
	-- The archive must outlive the last occupant (members leave and come
	-- back in the tests), and every room is archived.
	muc_room_default_persistent = true
	muc_log_all_rooms = true
	muc_log_by_default = true
	-- Non-anonymous rooms: occupants see each other's real JIDs, which is
	-- how a member's client finds out whose identity key a nick stands for.
	muc_room_default_public_jids = true
