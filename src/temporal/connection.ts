import * as fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { MlopsConfig } from '../config';
import { dataConverterOf } from './codec';

/** TLS options shared by the client (grpc-js) and the worker (Rust core) connections. */
function tlsOptions(config: MlopsConfig) {
  if (!config.tls) return undefined;
  const { clientCertPath, clientKeyPath, serverRootCaPath, serverNameOverride } = config.tls;
  const read = (p: string, what: string): Buffer => {
    try {
      return fs.readFileSync(p);
    } catch (err) {
      throw new Error(`Cannot read ${what} at ${p}: ${(err as Error).message}`);
    }
  };
  return {
    serverNameOverride,
    serverRootCACertificate: serverRootCaPath ? read(serverRootCaPath, 'TEMPORAL_TLS_CA_PATH') : undefined,
    clientCertPair: clientCertPath && clientKeyPath ? { crt: read(clientCertPath, 'TEMPORAL_TLS_CERT_PATH'), key: read(clientKeyPath, 'TEMPORAL_TLS_KEY_PATH') } : undefined,
  };
}

function connectionOptions(config: MlopsConfig) {
  const tls = tlsOptions(config);
  return {
    address: config.temporalAddress,
    ...(tls ? { tls } : {}),
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
  };
}

export async function connectClient(config: MlopsConfig): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config)).catch((err: Error) => {
    throw new Error(
      `Cannot reach Temporal at ${config.temporalAddress} (${err.message}). ` + 'Start a dev server with `npm run temporal`, or set TEMPORAL_ADDRESS to your server.',
    );
  });
  return clientOf(connection, config);
}

/** A client with our data converter (payload encryption when configured) on an existing connection. */
export function clientOf(connection: Connection, config: MlopsConfig): Client {
  return new Client({ connection, namespace: config.namespace, dataConverter: dataConverterOf(config.payloadEncryption) });
}

export async function connectWorker(config: MlopsConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}
