import { sql, type Kysely } from 'kysely';

// Student ids, section ids and course codes name rows of other services' schemas.
// The seat counts are the exception the architecture states: the workers lock
// course.sections (the seat row) and keep its enrolled/waitlisted counts.
export async function up(db: Kysely<any>): Promise<void> {
  // One row per accepted request. The door inserts it PENDING; a worker moves
  // it to exactly one final state. A PENDING row is also the request's outbox:
  // the reconciler republishes rows that stay PENDING too long.
  await sql`
    CREATE TABLE registration.registrations (
      id uuid PRIMARY KEY,
      student_id text NOT NULL CHECK (length(student_id) BETWEEN 1 AND 64),
      section_id uuid NOT NULL,
      term_code text NOT NULL,
      course_code text NOT NULL,
      credits integer NOT NULL CHECK (credits >= 0),
      state text NOT NULL CHECK (state IN ('PENDING', 'ENROLLED', 'WAITLISTED', 'REJECTED', 'DROPPED', 'FAILED')),
      reason_code text NOT NULL DEFAULT '',
      reason_message text NOT NULL DEFAULT '',
      request_id text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
      requested_by text NOT NULL,
      seat_held boolean NOT NULL DEFAULT false,
      capacity_override boolean NOT NULL DEFAULT false,
      waitlist_seq bigint,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      decided_at timestamptz,
      CONSTRAINT registrations_request_key UNIQUE (student_id, request_id),
      CHECK ((state = 'WAITLISTED') = (waitlist_seq IS NOT NULL)),
      CHECK ((state = 'PENDING') = (decided_at IS NULL))
    )`.execute(db);
  // A student has at most one live registration per section.
  await sql`CREATE UNIQUE INDEX registrations_one_live_idx ON registration.registrations (student_id, section_id)
    WHERE state IN ('PENDING', 'ENROLLED', 'WAITLISTED')`.execute(db);
  await sql`CREATE INDEX registrations_section_idx ON registration.registrations (section_id, state, waitlist_seq)`.execute(db);
  await sql`CREATE INDEX registrations_student_idx ON registration.registrations (student_id, created_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX registrations_pending_idx ON registration.registrations (updated_at) WHERE state = 'PENDING'`.execute(db);
  await sql`CREATE SEQUENCE registration.waitlist_seq`.execute(db);

  // A registrar's permit for one student to exceed one section's capacity.
  await sql`
    CREATE TABLE registration.capacity_overrides (
      student_id text NOT NULL,
      section_id uuid NOT NULL,
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
      granted_by text NOT NULL,
      granted_at timestamptz NOT NULL DEFAULT now(),
      used_by_registration_id uuid,
      PRIMARY KEY (student_id, section_id)
    )`.execute(db);

  // Append-only event store: every committed state change, in commit order per section.
  await sql`
    CREATE TABLE registration.audit_events (
      sequence bigserial PRIMARY KEY,
      kind text NOT NULL,
      actor text NOT NULL,
      student_id text NOT NULL,
      section_id uuid NOT NULL,
      registration_id uuid,
      request_id text NOT NULL DEFAULT '',
      before_state text NOT NULL DEFAULT '',
      after_state text NOT NULL DEFAULT '',
      reason_code text NOT NULL DEFAULT '',
      occurred_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`.execute(db);
  await sql`CREATE INDEX audit_events_section_idx ON registration.audit_events (section_id, sequence)`.execute(db);
  await sql`CREATE INDEX audit_events_student_idx ON registration.audit_events (student_id, sequence)`.execute(db);
  await sql`
    CREATE FUNCTION registration.audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$`.execute(db);
  await sql`
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON registration.audit_events
    FOR EACH ROW EXECUTE FUNCTION registration.audit_events_append_only()`.execute(db);

  // Transactional outbox: written in the deciding transaction, relayed to the
  // events exchange afterwards, deleted once RabbitMQ confirms.
  await sql`
    CREATE TABLE registration.outbox (
      id bigserial PRIMARY KEY,
      routing_key text NOT NULL,
      message_type text NOT NULL,
      payload bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['outbox', 'audit_events', 'capacity_overrides', 'registrations']) {
    await db.schema.dropTable(`registration.${t}`).ifExists().execute();
  }
  await sql`DROP FUNCTION IF EXISTS registration.audit_events_append_only()`.execute(db);
  await sql`DROP SEQUENCE IF EXISTS registration.waitlist_seq`.execute(db);
}
