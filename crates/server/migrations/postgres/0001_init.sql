-- Banter schema v1 (PostgreSQL). Mirrors migrations/sqlite/0001_init.sql with native types:
-- ids are `uuid` (UUIDv7), times are Unix milliseconds in `bigint`, counters are `bigint`.
-- Keys that are sorted or prefix-searched use the "C" collation so ORDER BY and LIKE compare
-- bytes exactly as SQLite's BINARY collation does, whatever the database's default locale.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL,
    username_key  text COLLATE "C" NOT NULL UNIQUE,   -- lower-cased username
    display_name  text NOT NULL,
    display_key   text COLLATE "C" NOT NULL,          -- lower-cased display name, for prefix search
    email         text,
    password_hash text NOT NULL,
    created_at    bigint NOT NULL
);
CREATE INDEX users_display_key ON users (display_key);

CREATE TABLE sessions (
    id         uuid PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,                 -- HMAC-SHA256(secret key, token)
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    revoked_at bigint
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE channels (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
    name         text COLLATE "C" UNIQUE,             -- NULL for DMs
    topic        text NOT NULL DEFAULT '',
    head_seq     bigint NOT NULL DEFAULT 0,           -- seq of the newest message; its row lock orders sends
    member_count bigint NOT NULL DEFAULT 0,
    dm_a         uuid REFERENCES users (id),          -- DM pair, dm_a < dm_b
    dm_b         uuid REFERENCES users (id),
    created_by   uuid REFERENCES users (id),
    created_at   bigint NOT NULL,
    UNIQUE (dm_a, dm_b)                               -- one DM per pair (NULLs, i.e. non-DMs, never clash)
);

CREATE TABLE members (
    channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    read_seq   bigint NOT NULL DEFAULT 0,
    joined_at  bigint NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX members_user ON members (user_id, channel_id);

CREATE TABLE messages (
    id         uuid PRIMARY KEY,
    channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    sender_id  uuid NOT NULL REFERENCES users (id),
    client_id  text NOT NULL,
    body       text NOT NULL,
    created_at bigint NOT NULL,
    UNIQUE (channel_id, seq),
    UNIQUE (sender_id, client_id)
);
