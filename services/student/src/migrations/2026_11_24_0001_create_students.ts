import { sql, type Kysely } from 'kysely';

// Course codes and term codes name rows of the course service's schema; they are
// checked through its API when written, not by foreign keys across services.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE student.students (
      id text PRIMARY KEY CHECK (id ~ '^S[0-9]{4,9}$'),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
      program text NOT NULL DEFAULT '' CHECK (length(program) <= 100),
      class_standing text NOT NULL CHECK (class_standing IN ('FRESHMAN', 'SOPHOMORE', 'JUNIOR', 'SENIOR', 'GRADUATE')),
      max_credits integer NOT NULL CHECK (max_credits BETWEEN 1 AND 40),
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX students_email_key ON student.students (lower(email))`.execute(db);

  await sql`
    CREATE TABLE student.completed_courses (
      student_id text NOT NULL REFERENCES student.students (id) ON DELETE CASCADE,
      course_code text NOT NULL CHECK (course_code ~ '^[A-Z]{2,8} [0-9]{3,4}[A-Z]?$'),
      term_code text NOT NULL CHECK (term_code ~ '^[A-Z0-9]{2,16}$'),
      grade text NOT NULL CHECK (grade IN ('F', 'D_MINUS', 'D', 'D_PLUS', 'C_MINUS', 'C', 'C_PLUS', 'B_MINUS', 'B', 'B_PLUS', 'A_MINUS', 'A', 'A_PLUS')),
      credits integer NOT NULL CHECK (credits BETWEEN 0 AND 12),
      term_start_date date,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (student_id, course_code, term_code),
      CHECK (grade <> 'F' OR credits = 0)
    )`.execute(db);

  await sql`
    CREATE TABLE student.holds (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      student_id text NOT NULL REFERENCES student.students (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('FINANCIAL', 'ADVISING', 'DISCIPLINARY', 'ADMINISTRATIVE')),
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
      placed_by text NOT NULL CHECK (length(placed_by) >= 1),
      placed_at timestamptz NOT NULL DEFAULT now(),
      released_by text,
      released_at timestamptz,
      CHECK ((released_by IS NULL) = (released_at IS NULL)),
      CHECK (released_at IS NULL OR released_at >= placed_at)
    )`.execute(db);
  // Listing pages newest first; eligibility reads only the active ones.
  await sql`CREATE INDEX holds_student_idx ON student.holds (student_id, placed_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX holds_active_idx ON student.holds (student_id) WHERE released_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE student.registration_windows (
      student_id text NOT NULL REFERENCES student.students (id) ON DELETE CASCADE,
      term_code text NOT NULL CHECK (term_code ~ '^[A-Z0-9]{2,16}$'),
      opens_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (student_id, term_code)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['registration_windows', 'holds', 'completed_courses', 'students']) {
    await db.schema.dropTable(`student.${t}`).ifExists().execute();
  }
}
