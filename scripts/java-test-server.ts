import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporalCacheDir } from '../src/cache-dir';
import { ensureSystemProgram, JAVA, MAVEN } from './system-packages';

/**
 * Temporal's time-skipping test server (the Java SDK's `temporal-test-server`), for the workflow
 * tests that wait days of workflow time in milliseconds. `TestWorkflowEnvironment.createTimeSkipping()`
 * would download a native build of it from GitHub; this machine reaches Maven Central only, so the
 * jar and its dependencies come from there, once per machine, into the cache, with a wrapper
 * script the environment starts as its `existing-path` executable (`<script> <port>`).
 */
export const JAVA_TEST_SERVER_VERSION = '1.31.0';
/** Binds SLF4J to nothing: the server's log lines would only bury the test report. */
const SLF4J_NOP_VERSION = '2.0.17';

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.temporal-mlops</groupId>
  <artifactId>java-test-server</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>${JAVA_TEST_SERVER_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>${SLF4J_NOP_VERSION}</version></dependency>
  </dependencies>
</project>
`;

export function javaTestServerDir(): string {
  return path.join(temporalCacheDir(), `temporal-test-server-${JAVA_TEST_SERVER_VERSION}`);
}

/** The wrapper script's path: cached, or fetched now with Maven (first run only; Java and Maven installed from Debian if missing). */
export function ensureJavaTestServer(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  const dir = javaTestServerDir();
  const script = path.join(dir, 'test-server');
  if (fs.existsSync(script)) return script;
  const java = ensureSystemProgram(JAVA, log);
  const mvn = ensureSystemProgram(MAVEN, log);
  log(`Fetching Temporal's Java test server ${JAVA_TEST_SERVER_VERSION} from Maven Central into ${dir} (first run only) …`);
  const started = Date.now();
  // Built beside the target and renamed into place: a run that stops half-way leaves nothing that looks whole.
  const staging = `${dir}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  fs.writeFileSync(path.join(staging, 'pom.xml'), POM);
  const r = spawnSync(
    mvn,
    ['-q', '-B', '-f', path.join(staging, 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${path.join(staging, 'lib')}`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `Could not fetch io.temporal:temporal-test-server:${JAVA_TEST_SERVER_VERSION} with Maven:\n${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n')}`,
    );
  }
  // `exec`: the environment stops the server by the pid it started, which must be the JVM itself.
  fs.writeFileSync(path.join(staging, 'test-server'), `#!/bin/sh\nexec '${java}' -cp '${dir}/lib/*' io.temporal.testserver.TestServer "$@"\n`, { mode: 0o755 });
  try {
    fs.renameSync(staging, dir);
  } catch (err) {
    // Another run published it first; its copy is as good.
    fs.rmSync(staging, { recursive: true, force: true });
    if (!fs.existsSync(script)) throw err;
  }
  log(`  Java test server ready (${Math.round((Date.now() - started) / 1000)} s)`);
  return script;
}
