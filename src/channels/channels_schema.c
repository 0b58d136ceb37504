/*
 * channels_schema.c - the tables of the channels part: migration step of
 * src/store/migrations.c.  Forward only once released.  See channels.h for
 * how they are used.
 */

const char channels_schema_sql[] =
    /* Configured channels; secrets sealed (crypto_secretbox, base64), settings JSON. */
    "CREATE TABLE channels ("
    "  id INTEGER PRIMARY KEY, adapter TEXT NOT NULL, name TEXT NOT NULL,"
    "  secrets TEXT NOT NULL, settings TEXT NOT NULL DEFAULT '{}',"
    "  is_active INTEGER NOT NULL DEFAULT 1, created_at_ms INTEGER NOT NULL,"
    "  updated_at_ms INTEGER NOT NULL, rotated_at_ms INTEGER,"
    "  UNIQUE (adapter, name));"
    /* Everything a webhook accepted, normalised; processed in id order. */
    "CREATE TABLE channel_inbox ("
    "  id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, source_id TEXT NOT NULL,"
    "  item TEXT NOT NULL, received_at_ms INTEGER NOT NULL, processed_at_ms INTEGER,"
    "  request_id INTEGER, error TEXT,"
    "  UNIQUE (channel_id, source_id));"
    "CREATE INDEX channel_inbox_todo ON channel_inbox(processed_at_ms, id);"
    /* Where the replies of a request go: the channel and the peer on it. */
    "CREATE TABLE channel_routes ("
    "  request_id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, peer TEXT NOT NULL,"
    "  meta TEXT NOT NULL DEFAULT '{}', updated_at_ms INTEGER NOT NULL);"
    "CREATE INDEX channel_routes_peer ON channel_routes(channel_id, peer, request_id);"
    /* Outgoing messages and their delivery state. */
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY, request_id INTEGER, customer_id INTEGER,"
    "  channel_id INTEGER NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL,"
    "  kind TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL,"
    "  lease_until_ms INTEGER, external_id TEXT, last_error TEXT,"
    "  created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,"
    "  sent_at_ms INTEGER, delivered_at_ms INTEGER, read_at_ms INTEGER);"
    "CREATE INDEX outbox_due ON outbox(status, next_at_ms);"
    "CREATE INDEX outbox_external ON outbox(channel_id, external_id);"
    "CREATE INDEX outbox_request ON outbox(request_id, id);"
    /* Telephony: one row per call, for service level, ASA and abandonment. */
    "CREATE TABLE calls ("
    "  id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, call_id TEXT NOT NULL,"
    "  phone TEXT, customer_id INTEGER, request_id INTEGER, queue TEXT, agent TEXT,"
    "  state TEXT NOT NULL, started_at_ms INTEGER NOT NULL, answered_at_ms INTEGER,"
    "  ended_at_ms INTEGER, wait_s INTEGER, duration_s INTEGER,"
    "  is_callback_requested INTEGER NOT NULL DEFAULT 0, recording_url TEXT,"
    "  updated_at_ms INTEGER NOT NULL, UNIQUE (channel_id, call_id));"
    "CREATE INDEX calls_started ON calls(started_at_ms);"
    /* Attachment bytes kept from e-mail (content-addressed). */
    "CREATE TABLE channel_files ("
    "  id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, mime TEXT NOT NULL,"
    "  name TEXT, size_bytes INTEGER NOT NULL, data BLOB NOT NULL,"
    "  created_at_ms INTEGER NOT NULL);"
    /* Small per-channel state (the IMAP UID seen last). */
    "CREATE TABLE channel_cursors ("
    "  channel_id INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (channel_id, name));";
