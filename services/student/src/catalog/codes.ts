import { z } from 'zod';

// The catalog's key formats, checked here so a malformed key is INVALID_ARGUMENT
// before any call to the course service.

export const courseCode = () => z.string().regex(/^[A-Z]{2,8} [0-9]{3,4}[A-Z]?$/, 'must be a department and number such as "CS 101"');
export const termCode = () => z.string().regex(/^[A-Z0-9]{2,16}$/, 'must be 2 to 16 upper-case letters or digits');
