import type { Cart, CartItem } from '../../../../gen/coursereg/registration/v1/registration_service';
import type { SectionInfo } from '../sections/sections.repository';
import { sectionsConflict } from '../sections/sections.service';

/**
 * The cart as the student sees it: each item with the sections it clashes with

 * (other cart items or sections already enrolled; linked sections must not
 * overlap either), and the credit load it
 * would bring, counting each course once.
 */
export function viewCart(items: readonly SectionInfo[], enrolled: readonly SectionInfo[], maxCredits: number, expireTime: Date | undefined): Cart {
  const out: CartItem[] = items.map((s) => ({
    sectionId: s.id,
    courseCode: s.courseCode,
    credits: s.credits,
    conflictingSectionIds: [...items, ...enrolled].filter((o) => o.id !== s.id && sectionsConflict(s, o)).map((o) => o.id),
  }));
  const courses = new Map<string, number>();
  for (const s of [...enrolled, ...items]) courses.set(s.courseCode, s.credits);
  const total = [...courses.values()].reduce((a, b) => a + b, 0);
  return { items: out, totalCredits: total, maxCredits, overCreditLimit: maxCredits > 0 && total > maxCredits, expireTime };
}

/** Submission order: sections others link to come before the sections that need them. */
export function submissionOrder(items: readonly SectionInfo[]): SectionInfo[] {
  return [...items].sort((a, b) => a.linkedSectionIds.length - b.linkedSectionIds.length);
}
