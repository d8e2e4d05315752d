/**
 * The HTTP API of `metaheac serve` on Fastify: campaigns in, job states, audiences out, an
 * OpenAPI description at /openapi.json. Campaigns are checked by expand's own parser (the
 * CLI's one-line messages, as 400s) before they are queued; the queue adapter (embedded or
 * BullMQ) runs them. One log line per request; the adapters log one per job state change.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import multipart from '@fastify/multipart';
import bearerAuth from '@fastify/bearer-auth';
import { UserError } from '../util/errors.js';
import type { JobBackend } from './jobs.js';
import type { ModelStore } from './model-store.js';
import type { CampaignRunner } from './runner.js';
import { LIST_FIELDS, parseSubmission, type ListField, type SubmissionLimits } from './submission.js';

export interface ServiceLimits extends SubmissionLimits {
  /** Largest request body (JSON or multipart upload), bytes. */
  bodyBytes: number;
  /** Jobs queued or running at once; more are refused with 429. */
  maxJobs: number;
}

export interface AppOptions {
  backend: JobBackend;
  runner: Pick<CampaignRunner, 'validate' | 'poolRows'>;
  models: ModelStore;
  limits: ServiceLimits;
  /** Bearer token every /v1 request must carry; null: none (loopback only). */
  token: string | null;
  /** One line per request (pino); false: silent. */
  logger: FastifyBaseLogger | false;
}

const jobParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
const errorBody = { type: 'object', properties: { error: { type: 'string' } } } as const;
const statusBody = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    state: { type: 'string', enum: ['queued', 'adapting', 'scoring', 'done', 'failed', 'cancelled'] },
    progress: { type: 'object', properties: { rowsScored: { type: 'integer' }, poolRows: { type: 'integer' } } },
    shards: { type: 'object', properties: { total: { type: 'integer' }, done: { type: 'integer' } } },
    timings: {
      type: 'object',
      properties: { submittedAt: { type: 'string' }, startedAt: { type: 'string' }, finishedAt: { type: 'string' }, totalSeconds: { type: 'number' } },
    },
    model: { type: 'object', properties: { path: { type: 'string' }, sha256: { type: 'string' } } },
    summary: { type: 'object', additionalProperties: true, description: "expand's summary.json, once done" },
    error: { type: 'string' },
  },
} as const;

/** An audience.csv line `uid,score,rank` as JSON. */
function audienceRow(line: string): { uid: number | string; score: number; rank: number } {
  const [uid, score, rank] = line.split(',');
  const u = Number(uid);
  return { uid: Number.isSafeInteger(u) ? u : uid!, score: Number(score), rank: Number(rank) };
}

/** Fastify logs a request twice (incoming, completed); one line, when it is answered, is enough. */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(_err: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  }
}

export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(o.logger ? { loggerInstance: o.logger } : { logger: false }),
    bodyLimit: o.limits.bodyBytes,
    logController: new OneLinePerRequest(),
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (err instanceof UserError) return reply.code(400).send({ error: err.message });
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) req.log.error({ err }, 'internal error');
    return reply.code(code).send({ error: code === 500 ? 'internal error' : err.message });
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'metaheac audience service', version: '1', description: 'Look-alike audience expansion: submit a campaign and its seed users, get the ranked audience of the user pool.' },
      components: o.token ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {},
    },
  });
  await app.register(multipart, { limits: { fileSize: o.limits.bodyBytes, files: LIST_FIELDS.length, fields: 1, parts: LIST_FIELDS.length + 1 } });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { schema: { summary: 'liveness: the process answers', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  app.get(
    '/readyz',
    { schema: { summary: 'readiness: a model is loaded and the queue takes jobs', response: { 200: { type: 'object', additionalProperties: true }, 503: { type: 'object', additionalProperties: true } } } },
    async (_req, reply) => {
      const q = await o.backend.ready();
      const model = o.models.ref;
      const ready = q.ready && model !== null;
      return reply.code(ready ? 200 : 503).send({ ready, queue: q.detail, mode: o.backend.mode, model });
    },
  );

  await app.register(async (v1) => {
    if (o.token) await v1.register(bearerAuth, { keys: [o.token], addHook: 'onRequest', errorResponse: () => ({ error: 'missing or wrong bearer token' }) });
    const security = o.token ? [{ bearer: [] }] : [];

    v1.post(
      '/v1/campaigns',
      {
        schema: {
          summary: 'submit a campaign: the campaign file\'s fields as JSON (seeds, negatives, examples as lists), or multipart with a `campaign` JSON field and files `seeds`, `negatives`, `examples` (CSV, txt, Arrow or Parquet)',
          security,
          body: { type: 'object', additionalProperties: true, properties: { name: { type: 'string' }, task: { type: 'object' }, codes: { type: 'boolean' }, seeds: { type: 'array' }, negatives: { type: 'array' }, examples: { type: 'array' }, top: { type: 'integer' }, include_seeds: { type: 'boolean' } } },
          response: { 202: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string' }, status: { type: 'string' } } }, 400: errorBody, 413: errorBody, 429: errorBody },
        },
        // the schema documents the JSON form; expand's parser checks it (with the CLI's messages)
        validatorCompiler: () => () => true,
      },
      async (req, reply) => {
        const { body, uploads } = await readCampaignRequest(req);
        const sub = parseSubmission(body, uploads, o.limits);
        if ((await o.backend.active()) >= o.limits.maxJobs) return reply.code(429).send({ error: `too many jobs in progress (limit ${o.limits.maxJobs}); retry later` });
        const dir = mkdtempSync(join(tmpdir(), 'mh-serve-check-'));
        let name: string;
        try {
          name = await o.runner.validate(sub, dir);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        const id = await o.backend.submit(sub, name);
        return reply.code(202).header('location', `/v1/jobs/${id}`).send({ id, state: 'queued', status: `/v1/jobs/${id}` });
      },
    );

    const notFound = (reply: FastifyReply, id: string) => reply.code(404).send({ error: `no job ${id}` });

    v1.get('/v1/jobs/:id', { schema: { summary: 'a job\'s state, progress, timings and (once done) summary', security, params: jobParams, response: { 200: statusBody, 404: errorBody } } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const st = await o.backend.status(id);
      return st ? st : notFound(reply, id);
    });

    v1.delete('/v1/jobs/:id', { schema: { summary: 'cancel a queued or running job', security, params: jobParams, response: { 200: statusBody, 404: errorBody } } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const st = await o.backend.cancel(id);
      return st ? st : notFound(reply, id);
    });

    const audienceOf = async (req: FastifyRequest, reply: FastifyReply) => {
      const { id } = req.params as { id: string };
      const files = await o.backend.audience(id);
      if (files) return files;
      const st = await o.backend.status(id);
      if (!st) await notFound(reply, id);
      else await reply.code(409).send({ error: `job ${id} is ${st.state}, not done` });
      return null;
    };

    v1.get(
      '/v1/jobs/:id/audience',
      {
        schema: {
          summary: 'a page of the audience, best first',
          security,
          params: jobParams,
          querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } } },
          response: {
            200: {
              type: 'object',
              properties: {
                total: { type: 'integer' },
                offset: { type: 'integer' },
                rows: { type: 'array', items: { type: 'object', properties: { uid: {}, score: { type: 'number' }, rank: { type: 'integer' } } } },
              },
            },
            404: errorBody,
            409: errorBody,
          },
        },
      },
      async (req, reply) => {
        const files = await audienceOf(req, reply);
        if (!files) return reply;
        const { limit, offset } = req.query as { limit: number; offset: number };
        const lines = files.csv.toString('utf8').split('\n').slice(1).filter((l) => l.length > 0);
        return { total: lines.length, offset, rows: lines.slice(offset, offset + limit).map(audienceRow) };
      },
    );

    v1.get('/v1/jobs/:id/audience.csv', { schema: { summary: 'the whole audience as CSV (uid,score,rank), as `metaheac expand` writes it', security, params: jobParams } }, async (req, reply) => {
      const files = await audienceOf(req, reply);
      if (!files) return reply;
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="audience.csv"').send(files.csv);
    });

    v1.get('/v1/jobs/:id/audience.parquet', { schema: { summary: 'the whole audience as Parquet, as `metaheac expand` writes it', security, params: jobParams } }, async (req, reply) => {
      const files = await audienceOf(req, reply);
      if (!files) return reply;
      if (!files.parquet) return reply.code(404).send({ error: 'no Parquet output for this job' });
      return reply.type('application/vnd.apache.parquet').header('content-disposition', 'attachment; filename="audience.parquet"').send(files.parquet);
    });

    v1.get('/v1/model', { schema: { summary: 'the checkpoint new jobs run on', security } }, async () => ({ model: o.models.ref }));
    v1.post(
      '/v1/model',
      {
        schema: {
          summary: 'swap in a new checkpoint (a path on the server) for new jobs; jobs already submitted finish on theirs',
          security,
          body: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
        },
      },
      async (req) => {
        const { path } = req.body as { path: string };
        const model = await o.models.swap(path);
        req.log.info({ model }, 'model swapped');
        return { model: o.models.ref };
      },
    );
  });
  return app;
}

/** The campaign JSON and any uploaded list files, from a JSON or a multipart request. */
async function readCampaignRequest(req: FastifyRequest): Promise<{ body: unknown; uploads: Partial<Record<ListField, { name: string; data: Buffer }>> }> {
  if (!req.isMultipart()) return { body: req.body, uploads: {} };
  let body: unknown = undefined;
  const uploads: Partial<Record<ListField, { name: string; data: Buffer }>> = {};
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (!(LIST_FIELDS as readonly string[]).includes(part.fieldname)) throw new UserError(`upload "${part.fieldname}": expected one of ${LIST_FIELDS.join(', ')}`);
      uploads[part.fieldname as ListField] = { name: part.filename, data: await part.toBuffer() };
    } else if (part.fieldname === 'campaign') {
      try {
        body = JSON.parse(String(part.value));
      } catch {
        throw new UserError('campaign: not valid JSON');
      }
    } else throw new UserError(`field "${part.fieldname}": expected "campaign" (the campaign as JSON) and files ${LIST_FIELDS.join(', ')}`);
  }
  if (body === undefined) throw new UserError('multipart request without a "campaign" field (the campaign as JSON)');
  return { body, uploads };
}
