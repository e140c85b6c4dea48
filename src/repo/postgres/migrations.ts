/**
 * Versioned PostgreSQL schema. Each entry runs once, in order, in its own transaction;
 * `schema_migrations` records what was applied. Never edit a shipped entry: append.
 * Ids are BIGSERIAL (the driver returns them as strings, which is what the wire wants);
 * times are milliseconds since the epoch, like the SQLite schema.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    avatar        TEXT    NOT NULL DEFAULT '',
    is_guest      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL
  );

  CREATE TABLE revoked_tokens (
    jti        TEXT   PRIMARY KEY,
    expires_at BIGINT NOT NULL
  );

  CREATE TABLE conversations (
    id           BIGSERIAL PRIMARY KEY,
    type         TEXT    NOT NULL CHECK (type IN ('single', 'group', 'world')),
    name         TEXT    NOT NULL DEFAULT '',
    avatar       TEXT    NOT NULL DEFAULT '',
    -- 'lo:hi' user ids for a single conversation, 'world' for the world room: one per pair.
    pair_key     TEXT    UNIQUE,
    group_id     BIGINT,
    member_count INTEGER NOT NULL DEFAULT 0,
    -- The seqId allocator: UPDATE … SET last_seq = last_seq + 1 RETURNING, under the row lock.
    last_seq     BIGINT  NOT NULL DEFAULT 0,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
  );

  CREATE TABLE conversation_members (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    user_id         BIGINT NOT NULL REFERENCES users (id),
    role            TEXT   NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    last_read_seq   BIGINT NOT NULL DEFAULT 0,
    joined_at       BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
  );
  CREATE INDEX conversation_members_by_user ON conversation_members (user_id, conversation_id);

  CREATE TABLE chat_groups (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL UNIQUE REFERENCES conversations (id),
    name            TEXT   NOT NULL,
    owner_id        BIGINT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL
  );

  CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    seq_id          BIGINT NOT NULL,
    sender_id       BIGINT NOT NULL REFERENCES users (id),
    sender_name     TEXT   NOT NULL,
    temp_message_id TEXT   NOT NULL,
    content         TEXT   NOT NULL,
    message_type    TEXT   NOT NULL,
    send_time       BIGINT NOT NULL,
    UNIQUE (conversation_id, seq_id),
    UNIQUE (conversation_id, sender_id, temp_message_id)
  );
  `,

  // 2: the idempotency key leads with temp_message_id, as in the SQLite schema: time-ordered ids
  // (the SDK's UUIDv7) then append to the index's right edge instead of one leaf per
  // (conversation, sender). ON CONFLICT infers the index whatever the column order.
  `
  CREATE UNIQUE INDEX messages_idempotency ON messages (temp_message_id, sender_id, conversation_id);
  ALTER TABLE messages DROP CONSTRAINT messages_conversation_id_sender_id_temp_message_id_key;
  `,

  // version 3 (SQLite's 4): accounts harden against a hostile internet, as in the SQLite schema: a random account_key
  // carried in every token, the unique confusable skeleton of the name, and last_active_at for
  // guest expiry.
  `
  ALTER TABLE users ADD COLUMN account_key TEXT NOT NULL DEFAULT '';
  UPDATE users SET account_key = replace(gen_random_uuid()::text, '-', '');
  ALTER TABLE users ADD COLUMN username_skeleton TEXT;
  CREATE UNIQUE INDEX users_by_skeleton ON users (username_skeleton);
  ALTER TABLE users ADD COLUMN last_active_at BIGINT NOT NULL DEFAULT 0;
  UPDATE users SET last_active_at = created_at;
  CREATE INDEX guests_by_activity ON users (last_active_at) WHERE is_guest;
  `,

  // version 4: the check of the one-statement append (postgres-dialect.ts, appendInOne). It fails
  // the statement, undoing all of it, when the insert skipped a row (a resend), so the store
  // appends that batch again the long way instead of leaving a gap in the seqIds.
  `
  CREATE OR REPLACE FUNCTION gochat_append_complete(inserted BIGINT, expected BIGINT) RETURNS BOOLEAN
  LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    IF inserted <> expected THEN
      RAISE EXCEPTION 'append inserted % of % rows', inserted, expected USING ERRCODE = 'GC001';
    END IF;
    RETURN TRUE;
  END
  $$;
  `,

  // version 5: conversations that change (issue 13), as SQLite migration 6 (see there): the member
  // set's version, the change counter and the compacted change rows, group description and
  // disband time, the seq a membership joined at.
  `
  ALTER TABLE conversations ADD COLUMN members_seq BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE conversations ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE chat_groups ADD COLUMN description TEXT NOT NULL DEFAULT '';
  ALTER TABLE chat_groups ADD COLUMN disbanded_at BIGINT;
  ALTER TABLE conversation_members ADD COLUMN joined_seq BIGINT NOT NULL DEFAULT 0;
  CREATE TABLE conversation_changes (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    kind            TEXT   NOT NULL,
    item_key        TEXT   NOT NULL,
    change_seq      BIGINT NOT NULL,
    data            TEXT,
    PRIMARY KEY (conversation_id, kind, item_key),
    UNIQUE (conversation_id, change_seq)
  );
  `,

  // version 6: a member's own settings of a conversation, as SQLite migration 7 (see there).
  `
  ALTER TABLE conversation_members ADD COLUMN muted BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE conversation_members ADD COLUMN pinned_at BIGINT;
  ALTER TABLE conversation_members ADD COLUMN hidden_seq BIGINT;
  `,

  // version 7: message actions (issue 14), as SQLite migration 8 (see there).
  `
  ALTER TABLE messages ADD COLUMN meta TEXT;
  ALTER TABLE messages ADD COLUMN reply_to_seq BIGINT;
  CREATE INDEX messages_replies ON messages (conversation_id, reply_to_seq) WHERE reply_to_seq IS NOT NULL;
  CREATE TABLE message_reactions (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    seq_id          BIGINT NOT NULL,
    emoji           TEXT   NOT NULL,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq_id, emoji, user_id)
  );
  CREATE INDEX message_reactions_by_user ON message_reactions (conversation_id, user_id, seq_id);
  `,
];
