import { z } from 'zod';
import type { CourseServiceServer } from '../../../../gen/coursereg/course/v1/course_service';
import { GetTermResponse, ListTermsResponse } from '../../../../gen/coursereg/course/v1/course_service';
import { principalOf, requireRole } from '../../../shared/src/auth';
import { isForeignKeyViolation, isUniqueViolation } from '../../../shared/src/db';
import { etags } from '../../../shared/src/enums';
import { aborted, alreadyExists, failedPrecondition, notFound } from '../../../shared/src/errors';
import { mergeMasked, resolveUpdateMask } from '../../../shared/src/fieldmask';
import { decodePageToken, encodePageToken, pageSizeOf } from '../../../shared/src/pagination';
import { unary } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { CatalogDeps } from '../deps';
import * as repo from './terms.repository';
import { TERM_MUTABLE, termCode, termFromRow, termSchema, termToValues } from './terms.service';

type TermHandlers = Pick<CourseServiceServer, 'createTerm' | 'getTerm' | 'listTerms' | 'updateTerm' | 'deleteTerm'>;

const codeRequest = z.object({ code: termCode() });
const listRequest = z.object({ pageSize: rules.pageSize(), pageToken: z.string().max(512) });
const deleteRequest = z.object({ code: termCode(), etag: z.string() });

export function termHandlers({ db, cache, log }: CatalogDeps): TermHandlers {
  const loadTerm = async (code: string) => {
    const row = await repo.findTerm(db, code);
    if (!row) throw notFound('TERM_NOT_FOUND', `no term ${code}`, { term_code: code });
    return termFromRow(row);
  };

  return {
    createTerm: unary(log, 'CreateTerm', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const term = validate(z.object({ term: termSchema }, { required_error: 'is required' }), call.request).term;
      try {
        const row = await repo.insertTerm(db, termToValues(term));
        await cache.invalidate();
        return { term: termFromRow(row) };
      } catch (err) {
        if (isUniqueViolation(err)) throw alreadyExists('TERM_EXISTS', `term ${term.code} already exists`);
        throw err;
      }
    }),

    getTerm: unary(log, 'GetTerm', async (call) => {
      const { code } = validate(codeRequest, call.request);
      return cache.getOrLoad(`term:${code}`, GetTermResponse, async () => ({ term: await loadTerm(code) }));
    }),

    listTerms: unary(log, 'ListTerms', async (call) => {
      const req = validate(listRequest, call.request);
      const size = pageSizeOf(req.pageSize);
      const after = decodePageToken<[string, string]>(req.pageToken, 'terms');
      return cache.getOrLoad(`terms:${size}:${req.pageToken}`, ListTermsResponse, async () => {
        const rows = await repo.listTerms(db, size + 1, after);
        const page = rows.slice(0, size);
        const last = page[page.length - 1];
        return {
          terms: page.map(termFromRow),
          nextPageToken: rows.length > size ? encodePageToken([last.start_date, last.code], 'terms') : '',
        };
      });
    }),

    updateTerm: unary(log, 'UpdateTerm', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const patch = validate(z.object({ term: z.object({ code: termCode(), etag: z.string() }).passthrough() }, { required_error: 'is required' }), call.request).term;
      const mask = resolveUpdateMask(call.request.updateMask, TERM_MUTABLE);
      const version = etags.require(patch.etag, 'term.etag');
      const current = await loadTerm(patch.code);
      const merged = validate(z.object({ term: termSchema }), { term: mergeMasked(current, call.request.term!, mask) }).term;
      const row = await repo.updateTermIfVersion(db, patch.code, version, termToValues(merged));
      if (!row) throw aborted(`term ${patch.code} was changed by someone else; read it again`);
      await cache.invalidate();
      return { term: termFromRow(row) };
    }),

    deleteTerm: unary(log, 'DeleteTerm', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const req = validate(deleteRequest, call.request);
      const version = etags.require(req.etag);
      const hasSections = () => failedPrecondition('TERM_HAS_SECTIONS', `term ${req.code} has sections; cancel them instead of deleting the term`);
      await db.transaction().execute(async (trx) => {
        const current = await repo.findTerm(trx, req.code);
        if (!current) throw notFound('TERM_NOT_FOUND', `no term ${req.code}`, { term_code: req.code });
        if (await repo.termHasSections(trx, req.code)) throw hasSections();
        if (!(await repo.deleteTermIfVersion(trx, req.code, version))) {
          throw aborted(`term ${req.code} was changed by someone else; read it again`);
        }
      }).catch((err: unknown) => {
        throw isForeignKeyViolation(err) ? hasSections() : err;
      });
      await cache.invalidate();
      return {};
    }),
  };
}
