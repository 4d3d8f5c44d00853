import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE course.terms (
      code text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{2,16}$'),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
      start_date date NOT NULL,
      end_date date NOT NULL,
      registration_opens_at timestamptz NOT NULL,
      add_drop_deadline_at timestamptz NOT NULL,
      status text NOT NULL CHECK (status IN ('PLANNED', 'OPEN', 'CLOSED')),
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (end_date >= start_date),
      CHECK (add_drop_deadline_at > registration_opens_at)
    )`.execute(db);

  await sql`
    CREATE TABLE course.courses (
      code text PRIMARY KEY CHECK (code ~ '^[A-Z]{2,8} [0-9]{3,4}[A-Z]?$'),
      title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      description text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
      credits integer NOT NULL CHECK (credits BETWEEN 0 AND 12),
      department text NOT NULL CHECK (department ~ '^[A-Z]{2,8}$'),
      prerequisite jsonb,
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (split_part(code, ' ', 1) = department)
    )`.execute(db);
  await sql`CREATE INDEX courses_department_idx ON course.courses (department, code)`.execute(db);

  // Every course named by a prerequisite expression or as a corequisite, so the
  // database itself refuses requisites on unknown courses and deleting a course
  // that others require.
  await sql`
    CREATE TABLE course.course_requisites (
      course_code text NOT NULL REFERENCES course.courses (code) ON DELETE CASCADE,
      required_code text NOT NULL REFERENCES course.courses (code) ON DELETE RESTRICT,
      kind text NOT NULL CHECK (kind IN ('PRE', 'CO')),
      PRIMARY KEY (course_code, kind, required_code),
      CHECK (course_code <> required_code)
    )`.execute(db);
  await sql`CREATE INDEX course_requisites_required_idx ON course.course_requisites (required_code)`.execute(db);

  // A section row is also the section's seat row: capacity is written by the
  // course service, the counts by the registration workers, and both lock it
  // (SELECT ... FOR UPDATE) so capacity never drops below what is taken.
  await sql`
    CREATE TABLE course.sections (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      course_code text NOT NULL REFERENCES course.courses (code) ON DELETE RESTRICT,
      term_code text NOT NULL REFERENCES course.terms (code) ON DELETE RESTRICT,
      section_code text NOT NULL CHECK (section_code ~ '^[A-Z0-9]{1,8}$'),
      kind text NOT NULL CHECK (kind IN ('LECTURE', 'LAB', 'DISCUSSION', 'SEMINAR')),
      instructor text NOT NULL DEFAULT '' CHECK (length(instructor) <= 200),
      capacity integer NOT NULL CHECK (capacity BETWEEN 0 AND 2000),
      waitlist_capacity integer NOT NULL CHECK (waitlist_capacity BETWEEN 0 AND 2000),
      enrolled_count integer NOT NULL DEFAULT 0 CHECK (enrolled_count >= 0),
      waitlisted_count integer NOT NULL DEFAULT 0 CHECK (waitlisted_count >= 0),
      status text NOT NULL CHECK (status IN ('OPEN', 'CLOSED', 'CANCELLED')),
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT sections_code_unique UNIQUE (term_code, course_code, section_code),
      CHECK (waitlisted_count <= waitlist_capacity)
    )`.execute(db);
  await sql`CREATE INDEX sections_course_idx ON course.sections (course_code, term_code)`.execute(db);

  // days is a bit set: bit 1 Monday ... bit 7 Sunday (DayOfWeek numbers).
  await sql`
    CREATE TABLE course.meeting_times (
      section_id uuid NOT NULL REFERENCES course.sections (id) ON DELETE CASCADE,
      ordinal smallint NOT NULL CHECK (ordinal BETWEEN 0 AND 7),
      days smallint NOT NULL CHECK (days > 0 AND days < 256 AND days % 2 = 0),
      start_minute smallint NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
      end_minute smallint NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
      room text NOT NULL DEFAULT '' CHECK (length(room) <= 50),
      PRIMARY KEY (section_id, ordinal),
      CHECK (end_minute > start_minute)
    )`.execute(db);

  await sql`
    CREATE TABLE course.section_links (
      section_id uuid NOT NULL REFERENCES course.sections (id) ON DELETE CASCADE,
      linked_section_id uuid NOT NULL REFERENCES course.sections (id) ON DELETE CASCADE,
      PRIMARY KEY (section_id, linked_section_id),
      CHECK (section_id <> linked_section_id)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['section_links', 'meeting_times', 'sections', 'course_requisites', 'courses', 'terms']) {
    await db.schema.dropTable(`course.${t}`).ifExists().execute();
  }
}
