import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The dependency direction of DESIGN.md, enforced over the real import graph of src/ (type-only
 * imports included: they tie modules together for a reader just the same):
 * cli → client → workflows → activities → domain libraries → store/sql, with src/api/ (each
 * workflow's ids, messages, search attributes) shared by client, workflows and activities.
 */
const SRC = path.resolve(__dirname, '../src');

interface Module {
  file: string;
  /** Other src/ modules it imports, as paths relative to src/. */
  local: string[];
  /** Bare specifiers: packages and Node built-ins. */
  external: string[];
  /** The imports that survive compilation (not `import type`), local and external. */
  runtime: string[];
}

/** Every import and re-export of a file, and whether only types come through it. */
function importsOf(file: string): { spec: string; typeOnly: boolean }[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  return source.statements.flatMap((s) => {
    if (ts.isImportDeclaration(s) && ts.isStringLiteral(s.moduleSpecifier)) {
      const clause = s.importClause;
      const bindings = clause?.namedBindings;
      const onlyTypes =
        !!clause &&
        (clause.isTypeOnly || (!clause.name && !!bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)));
      return [{ spec: s.moduleSpecifier.text, typeOnly: onlyTypes }];
    }
    if (ts.isExportDeclaration(s) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier)) return [{ spec: s.moduleSpecifier.text, typeOnly: s.isTypeOnly }];
    return [];
  });
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function resolveLocal(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return path.relative(SRC, candidate);
  }
  throw new Error(`${path.relative(SRC, from)} imports ${spec}, which does not resolve`);
}

function readGraph(): Map<string, Module> {
  const graph = new Map<string, Module>();
  for (const file of sourceFiles(SRC)) {
    const imports = importsOf(file);
    const resolve = (s: string) => (s.startsWith('.') ? resolveLocal(file, s) : s);
    const rel = path.relative(SRC, file);
    graph.set(rel, {
      file: rel,
      local: imports.filter((i) => i.spec.startsWith('.')).map((i) => resolve(i.spec)),
      external: imports.filter((i) => !i.spec.startsWith('.')).map((i) => i.spec),
      runtime: imports.filter((i) => !i.typeOnly).map((i) => resolve(i.spec)),
    });
  }
  return graph;
}

/** Strongly connected components with more than one module (or a module importing itself). */
function cycles(graph: Map<string, Module>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!.local) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)!.local.includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

const layerOf = (file: string): string => {
  const top = file.split(path.sep)[0]!;
  return ['api', 'activities', 'workflows', 'client', 'cli', 'temporal', 'reports', 'serving'].includes(top) ? top : file === 'worker.ts' ? 'worker' : 'domain';
};

/** What each layer must never import (by layer of the imported module). */
const FORBIDDEN: Record<string, readonly string[]> = {
  domain: ['api', 'activities', 'workflows', 'client', 'cli', 'worker'],
  temporal: ['api', 'activities', 'workflows', 'client', 'cli', 'worker'],
  api: ['activities', 'workflows', 'client', 'cli', 'worker'],
  activities: ['workflows', 'client', 'cli', 'worker'],
  workflows: ['client', 'cli', 'worker'],
  client: ['cli', 'worker'],
  // Pages are drawn from stored reports and the registry's state (its api/ types), never by talking to Temporal.
  reports: ['activities', 'workflows', 'client', 'cli', 'worker'],
  // The model server is an application of its own beside the CLI: a Temporal client of the registry and alerts.
  serving: ['activities', 'cli', 'worker'],
};

/** Packages that pull Node into the workflow sandbox, where they cannot run. */
const NOT_IN_WORKFLOWS = /^(node:|@temporalio\/(client|worker|activity|testing)$|@duckdb\/|onnxruntime-node$|@aws-sdk\/)/;

describe('the import graph of src/', () => {
  const graph = readGraph();

  it('has no cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('imports only downward: nothing imports client/ or cli/ from below, activities never import workflows', () => {
    const upward = [...graph.values()].flatMap((m) => m.local.filter((dep) => (FORBIDDEN[layerOf(m.file)] ?? []).includes(layerOf(dep))).map((dep) => `${m.file} → ${dep}`));
    expect(upward).toEqual([]);
  });

  it('keeps workflow code and everything it imports (src/api/ too) free of Node and of worker-side packages', () => {
    const reached = new Set<string>();
    const walk = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      // The bundler drops type-only imports (a workflow's `import type { Activities }`).
      for (const dep of graph.get(file)!.runtime) if (graph.has(dep)) walk(dep);
    };
    walk(path.join('workflows', 'index.ts'));
    for (const file of graph.keys()) if (layerOf(file) === 'api') walk(file);
    expect([...reached]).toEqual(expect.arrayContaining([path.join('workflows', 'retrain.ts'), path.join('api', 'retrain.ts'), 'validation.ts']));
    const offending = [...reached].flatMap((f) =>
      graph
        .get(f)!
        .runtime.filter((s) => NOT_IN_WORKFLOWS.test(s))
        .map((s) => `${f} → ${s}`),
    );
    expect(offending).toEqual([]);
  });

  it('the rule holds on a graph that breaks it (the checker itself can fail)', () => {
    const broken = new Map<string, Module>([
      ['a.ts', { file: 'a.ts', local: ['b.ts'], external: [], runtime: [] }],
      ['b.ts', { file: 'b.ts', local: ['a.ts'], external: [], runtime: [] }],
    ]);
    expect(cycles(broken)).toEqual([['a.ts', 'b.ts']]);
  });
});
