import type { RegistrationDb } from '../db';

/** Unused capacity permits of the given sections, as section -> students. */
export async function unusedPermits(db: RegistrationDb, sectionIds: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (sectionIds.length === 0) return out;
  const rows = await db
    .selectFrom('registration.capacity_overrides')
    .select(['section_id', 'student_id'])
    .where('section_id', 'in', [...sectionIds])
    .where('used_by_registration_id', 'is', null)
    .execute();
  for (const r of rows) {
    if (!out.has(r.section_id)) out.set(r.section_id, new Set());
    out.get(r.section_id)!.add(r.student_id);
  }
  return out;
}

export async function usePermit(trx: RegistrationDb, studentId: string, sectionId: string, registrationId: string): Promise<void> {
  await trx
    .updateTable('registration.capacity_overrides')
    .set({ used_by_registration_id: registrationId })
    .where('student_id', '=', studentId)
    .where('section_id', '=', sectionId)
    .execute();
}

/** Grants (or re-grants, unused) a permit; returns false when an unused one already exists. */
export async function grantPermit(trx: RegistrationDb, p: { studentId: string; sectionId: string; reason: string; grantedBy: string }): Promise<void> {
  await trx
    .insertInto('registration.capacity_overrides')
    .values({ student_id: p.studentId, section_id: p.sectionId, reason: p.reason, granted_by: p.grantedBy, used_by_registration_id: null })
    .onConflict((oc) => oc.columns(['student_id', 'section_id']).doUpdateSet({ reason: p.reason, granted_by: p.grantedBy, granted_at: new Date(), used_by_registration_id: null }))
    .execute();
}
