/**
 * A throwaway PKI for TLS tests, made with the openssl CLI: a CA, a server certificate for
 * localhost/127.0.0.1 (and the name `tls-test.internal`, for servername checks), a client
 * certificate (CN configurable: Postgres `cert` auth maps it to the user), the client key also
 * encrypted with a passphrase, and a second, unrelated CA whose trust must be refused.
 * Keys are PKCS#8 EC P-256 (fast; Java, OpenSSL and Node all read them).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const hasOpenssl = existsSync('/usr/bin/openssl');

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** The client key encrypted with `clientKeyPassword` (PKCS#8, AES-256). */
  readonly clientKeyEncrypted: string;
  readonly clientKeyPassword: string;
  /** A CA that signed nothing here: trusting only it must fail verification. */
  readonly otherCaCert: string;
  /** A server certificate for another host name only (`elsewhere.invalid`), signed by the CA. */
  readonly wrongNameCert: string;
  readonly wrongNameKey: string;
}

const openssl = (args: string[]): void => {
  execFileSync('/usr/bin/openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

function key(path: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

function signed(dir: string, name: string, subject: string, san: string | null, ca: { cert: string; key: string }, usage: 'serverAuth' | 'clientAuth'): { cert: string; key: string } {
  const k = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const crt = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  key(k);
  openssl(['req', '-new', '-key', k, '-subj', subject, '-out', csr]);
  writeFileSync(ext, [`basicConstraints=CA:FALSE`, `keyUsage=digitalSignature,keyEncipherment`, `extendedKeyUsage=${usage}`, ...(san ? [`subjectAltName=${san}`] : [])].join('\n'));
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', ext, '-out', crt]);
  return { cert: crt, key: k };
}

function caIn(dir: string, name: string): { cert: string; key: string } {
  const k = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  key(k);
  openssl(['req', '-x509', '-new', '-key', k, '-sha256', '-days', '2', '-subj', `/CN=${name} test CA`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', crt]);
  return { cert: crt, key: k };
}

/** Creates the PKI under `dir` (files readable by every user: the test servers run as other users). */
export function makePki(dir: string, clientCn = 'cdc-client'): TestPki {
  mkdirSync(dir, { recursive: true });
  const ca = caIn(dir, 'ca');
  const other = caIn(dir, 'other-ca');
  const server = signed(dir, 'server', '/CN=localhost', 'DNS:localhost,DNS:tls-test.internal,IP:127.0.0.1', ca, 'serverAuth');
  const client = signed(dir, 'client', `/CN=${clientCn}`, null, ca, 'clientAuth');
  const wrong = signed(dir, 'wrong-name', '/CN=elsewhere.invalid', 'DNS:elsewhere.invalid', ca, 'serverAuth');
  const password = 'client-key-pass';
  const encrypted = join(dir, 'client-encrypted.key');
  openssl(['pkcs8', '-topk8', '-in', client.key, '-v2', 'aes-256-cbc', '-passout', `pass:${password}`, '-out', encrypted]);
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    clientKeyEncrypted: encrypted,
    clientKeyPassword: password,
    otherCaCert: other.cert,
    wrongNameCert: wrong.cert,
    wrongNameKey: wrong.key,
  };
}
