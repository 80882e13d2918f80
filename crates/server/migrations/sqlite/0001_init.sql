-- Banter schema v1 (SQLite). Ids are UUIDv7 as 16-byte blobs; times are Unix milliseconds.

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,          -- lower-cased username
    display_name  TEXT NOT NULL,
    display_key   TEXT NOT NULL,                 -- lower-cased display name, for prefix search
    email         TEXT,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX users_display_key ON users (display_key);

CREATE TABLE sessions (
    id           BLOB PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,           -- HMAC-SHA256(secret key, token)
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE channels (
    id           BLOB PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
    name         TEXT UNIQUE,                    -- NULL for DMs
    topic        TEXT NOT NULL DEFAULT '',
    head_seq     INTEGER NOT NULL DEFAULT 0,     -- seq of the newest message
    member_count INTEGER NOT NULL DEFAULT 0,
    dm_a         BLOB REFERENCES users (id),     -- DM pair, dm_a < dm_b
    dm_b         BLOB REFERENCES users (id),
    created_by   BLOB REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    UNIQUE (dm_a, dm_b)
);

CREATE TABLE members (
    channel_id BLOB NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    read_seq   INTEGER NOT NULL DEFAULT 0,
    joined_at  INTEGER NOT NULL,
    PRIMARY KEY (channel_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members (user_id, channel_id);

CREATE TABLE messages (
    id         BLOB PRIMARY KEY,
    channel_id BLOB NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    sender_id  BLOB NOT NULL REFERENCES users (id),
    client_id  TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (channel_id, seq),
    UNIQUE (sender_id, client_id)
);
