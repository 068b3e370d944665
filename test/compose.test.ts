import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { SEARCH_ATTRIBUTE_FLAGS } from '../src/temporal/search-attributes';

/**
 * No Docker engine runs on CI, so docker-compose.yml is checked as configuration: with
 * `docker compose config` where the compose plugin exists, and always against the structure and
 * cross-references the stack depends on.
 */
const ROOT = path.resolve(__dirname, '..');
const text = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');

const service = z
  .object({
    image: z.string().optional(),
    build: z.union([z.string(), z.object({ context: z.string() }).passthrough()]).optional(),
    depends_on: z.record(z.string(), z.object({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']) })).optional(),
    environment: z.record(z.string(), z.string()).optional(),
    ports: z.array(z.string().regex(/^\d+:\d+$/)).optional(),
    volumes: z.array(z.string().regex(/^[^:]+:\/[^:]*(:ro)?$/)).optional(),
    healthcheck: z
      .object({ test: z.array(z.string()).min(2) })
      .passthrough()
      .optional(),
  })
  .passthrough()
  .refine((s) => s.image || s.build, 'a service needs an image or a build');
const composeSchema = z.object({
  name: z.string(),
  services: z.record(z.string(), service),
  volumes: z.record(z.string(), z.null()).optional(),
});

describe('docker-compose.yml', () => {
  const compose = composeSchema.parse(parse(text));
  const services = compose.services;

  it('passes `docker compose config` where the compose plugin exists', () => {
    const probe = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (probe.status !== 0) return; // no compose plugin here: the structural checks below still run
    const result = spawnSync('docker', ['compose', '-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
  });

  it('references only services and volumes it defines', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        if (condition === 'service_healthy') expect(services[dep]!.healthcheck, `${dep} needs a healthcheck`).toBeDefined();
      }
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect(compose.volumes, `volume ${source}`).toHaveProperty(source);
      }
    }
  });

  it('runs Temporal on PostgreSQL with the Web UI and our search attributes', () => {
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services['temporal-ui']!.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
    const setup = JSON.stringify(services['temporal-setup']!.command);
    for (const flag of SEARCH_ATTRIBUTE_FLAGS) expect(setup).toContain(flag);
  });

  it('gives the worker an S3 service, its bucket and the store settings that point at them', () => {
    const s3 = services.s3!;
    expect(s3.image).toMatch(/^versity\/versitygw:v\d+\.\d+\.\d+$/);
    const port = s3.environment!.VGW_PORT!.replace(/^:/, '');
    expect(s3.ports).toContain(`${port}:${port}`);
    expect(s3.volumes).toContain(`s3-data:${s3.environment!.VGW_BACKEND_ARG}`);

    const worker = services.worker!.environment!;
    // Every artifact in the bucket s3-setup creates: the whole loop runs on S3 (test/s3-*.test.ts).
    const bucket = /^s3:\/\/([^/]+)\/[^/]+/.exec(worker.MLOPS_STORE ?? '')?.[1];
    expect(bucket, 'MLOPS_STORE: s3://<bucket>/<prefix>').toBeDefined();
    expect(worker).toMatchObject({
      AWS_ENDPOINT_URL: `http://s3:${port}`,
      AWS_ACCESS_KEY_ID: s3.environment!.ROOT_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: s3.environment!.ROOT_SECRET_ACCESS_KEY,
    });
    expect(services.worker!.depends_on).toMatchObject({ 's3-setup': { condition: 'service_completed_successfully' } });
    const setup = services['s3-setup']!;
    expect(JSON.stringify(setup.command)).toContain(`create-bucket --bucket ${bucket}`);
    expect(setup.environment).toMatchObject({
      AWS_ENDPOINT_URL: worker.AWS_ENDPOINT_URL,
      AWS_ACCESS_KEY_ID: worker.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: worker.AWS_SECRET_ACCESS_KEY,
    });
  });

  it('builds the worker from this repo and keeps its data on a volume', () => {
    const worker = services.worker!;
    expect(worker.build).toBe('.');
    expect(fs.existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
    expect(worker.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', MLOPS_DATA_DIR: '/data' });
    expect(worker.volumes).toContain('mlops-data:/data');
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toContain('src/worker.ts');
  });

  it('builds the worker image from files that exist', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+\s*$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(fs.existsSync(path.join(ROOT, source)), `COPY ${source}`).toBe(true);
  });
});
