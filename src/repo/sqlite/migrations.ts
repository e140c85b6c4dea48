/**
 * Versioned SQLite schema. Each entry runs once, in order, inside a transaction;
 * `PRAGMA user_version` records the last one applied. Never edit a shipped entry: append.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  // 1: the initial schema. Times are milliseconds since the epoch.
  `
  CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    avatar        TEXT    NOT NULL DEFAULT '',
    is_guest      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
  );

  CREATE TABLE revoked_tokens (
    jti        TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE conversations (
    id           INTEGER PRIMARY KEY,
    type         TEXT    NOT NULL CHECK (type IN ('single', 'group', 'world')),
    name         TEXT    NOT NULL DEFAULT '',
    avatar       TEXT    NOT NULL DEFAULT '',
    -- 'lo:hi' user ids for a single conversation, 'world' for the world room: one per pair.
    pair_key     TEXT    UNIQUE,
    group_id     INTEGER,
    member_count INTEGER NOT NULL DEFAULT 0,
    last_seq     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
  );

  CREATE TABLE conversation_members (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    role            TEXT    NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    last_read_seq   INTEGER NOT NULL DEFAULT 0,
    joined_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX conversation_members_by_user ON conversation_members (user_id, conversation_id);

  CREATE TABLE chat_groups (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversations (id),
    name            TEXT    NOT NULL,
    owner_id        INTEGER NOT NULL REFERENCES users (id),
    created_at      INTEGER NOT NULL
  );

  CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    seq_id          INTEGER NOT NULL,
    sender_id       INTEGER NOT NULL REFERENCES users (id),
    sender_name     TEXT    NOT NULL,
    temp_message_id TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    message_type    TEXT    NOT NULL,
    send_time       INTEGER NOT NULL,
    UNIQUE (conversation_id, seq_id),
    UNIQUE (conversation_id, sender_id, temp_message_id)
  );
  `,

  // 2: the idempotency key leads with temp_message_id. Clients send time-ordered ids (the SDK's
  // UUIDv7), so new entries land on the index's rightmost leaves instead of one leaf per
  // (conversation, sender): a group commit of hundreds of messages dirtied, and wrote to the WAL,
  // hundreds of 4 KB pages for that index alone. Same uniqueness; SQLite cannot drop a table
  // constraint, so the table is rebuilt (rows and ids kept).
  `
  CREATE TABLE messages_v2 (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    seq_id          INTEGER NOT NULL,
    sender_id       INTEGER NOT NULL REFERENCES users (id),
    sender_name     TEXT    NOT NULL,
    temp_message_id TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    message_type    TEXT    NOT NULL,
    send_time       INTEGER NOT NULL,
    UNIQUE (conversation_id, seq_id),
    UNIQUE (temp_message_id, sender_id, conversation_id)
  );
  INSERT INTO messages_v2 (id, conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time)
    SELECT id, conversation_id, seq_id, sender_id, sender_name, temp_message_id, content, message_type, send_time FROM messages;
  DROP TABLE messages;
  ALTER TABLE messages_v2 RENAME TO messages;
  `,

  // 3: each message keeps its wire form (the JSON after `messageId`, see protocol/stored-encoding.ts), written
  // with the row: a history page is then two columns per row spliced into the response, not seven
  // values read, mapped and serialized again. Rows stored before this migration have NULL there and
  // are served from their columns.
  `
  ALTER TABLE messages ADD COLUMN wire TEXT;
  `,

  // 4: accounts harden against a hostile internet (docs/security.md).
  // - account_key: random per account, carried in every token; a token whose account was recreated
  //   (same id after a restore or a new database) or re-keyed no longer matches and is refused.
  // - username_skeleton: the confusable skeleton (Unicode TR39) of the name, unique, so `admin` and a
  //   look-alike cannot both exist. NULL for accounts created before this migration until the
  //   server backfills them at start.
  // - last_active_at: when the account last authenticated (coarse), so inactive guests can expire.
  `
  ALTER TABLE users ADD COLUMN account_key TEXT NOT NULL DEFAULT '';
  UPDATE users SET account_key = lower(hex(randomblob(16)));
  ALTER TABLE users ADD COLUMN username_skeleton TEXT;
  CREATE UNIQUE INDEX users_by_skeleton ON users (username_skeleton);
  ALTER TABLE users ADD COLUMN last_active_at INTEGER NOT NULL DEFAULT 0;
  UPDATE users SET last_active_at = created_at;
  CREATE INDEX guests_by_activity ON users (last_active_at) WHERE is_guest = 1;
  `,

  // 5: the stored wire form names the format it was written in (protocol/stored-encoding.ts), so a
  // row written before a field was added to MessageSchema is read from its columns, not served in
  // its old shape. Rows stored so far were written in the format of this migration's schema: the
  // column's default says so without rewriting every row at start (inserts always name a format;
  // a row without a wire form stays without one whatever its format says).
  `
  ALTER TABLE messages ADD COLUMN wire_format TEXT DEFAULT 'm1-9bbb61da';
  `,

  // 6: conversations that change (issue 13). members_seq: the seqId of the system message that last
  // changed a conversation's member set (0: as created); a send is stored only if the version its
  // recipients were computed at is still this one, checked under the append's lock. change_seq: the
  // gap-free counter of changes to things other than new messages, whose current values
  // conversation_changes keeps one row per item (an item changed twice is one row: the compaction).
  // Groups gain a description and a disband time; a membership remembers the seq it joined at.
  `
  ALTER TABLE conversations ADD COLUMN members_seq INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE conversations ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE chat_groups ADD COLUMN description TEXT NOT NULL DEFAULT '';
  ALTER TABLE chat_groups ADD COLUMN disbanded_at INTEGER;
  ALTER TABLE conversation_members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE conversation_changes (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    kind            TEXT    NOT NULL,
    item_key        TEXT    NOT NULL,
    change_seq      INTEGER NOT NULL,
    data            TEXT,
    PRIMARY KEY (conversation_id, kind, item_key)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX conversation_changes_by_seq ON conversation_changes (conversation_id, change_seq);
  `,

  // 7: a member's own settings of a conversation (issue 13): muted (delivered, counted, but the
  // member's clients do not alert), pinned (the time it was pinned: pinned conversations list first)
  // and hidden (the seqId it was hidden at: listed again once a later message arrives).
  `
  ALTER TABLE conversation_members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE conversation_members ADD COLUMN pinned_at INTEGER;
  ALTER TABLE conversation_members ADD COLUMN hidden_seq INTEGER;
  `,

  // 8: message actions (issue 14). meta: the message's optional fields as JSON in MessageSchema's
  // order (reply snapshot, extra, edit and recall marks, reaction counts), NULL for a plain message;
  // a change rewrites it and the stored wire form together. reply_to_seq: the seqId a reply quotes,
  // so a recall finds the replies whose snapshot it must empty. message_reactions: who reacted
  // with what, one row per (message, emoji, user).
  `
  ALTER TABLE messages ADD COLUMN meta TEXT;
  ALTER TABLE messages ADD COLUMN reply_to_seq INTEGER;
  CREATE INDEX messages_replies ON messages (conversation_id, reply_to_seq) WHERE reply_to_seq IS NOT NULL;
  CREATE TABLE message_reactions (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    seq_id          INTEGER NOT NULL,
    emoji           TEXT    NOT NULL,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq_id, emoji, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX message_reactions_by_user ON message_reactions (conversation_id, user_id, seq_id);
  `,
];
