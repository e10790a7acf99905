/**
 * The server's own TLS (TLS_CERT and TLS_KEY): reads the PEM files and
 * proves they belong together before the server listens, so a missing,
 * unreadable, malformed or mismatched pair stops the start with a message
 * naming the file and the fault, never a stack trace at the first request.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** When the (first) certificate stops being valid. */
  validTo: Date;
}

function readPem(name: string, file: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read by this user' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${code})`;
    throw new Error(`${name}=${file} ${why}`);
  }
  if (!bytes.includes('-----BEGIN ')) throw new Error(`${name}=${file} is not a PEM file (no "-----BEGIN" line)`);
  return bytes;
}

/** Reads and checks the certificate and key; throws an Error whose message says what to fix. */
export function loadTls(files: TlsFiles): TlsMaterial {
  const cert = readPem('TLS_CERT', files.certFile);
  const key = readPem('TLS_KEY', files.keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`TLS_CERT=${files.certFile} holds no readable certificate (${(err as Error).message})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    const m = (err as Error).message;
    const hint = /passphrase|decrypt|password/i.test(m) ? 'it is encrypted; give the server an unencrypted key file readable only by it' : m;
    throw new Error(`TLS_KEY=${files.keyFile} holds no usable private key (${hint})`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new Error(`TLS_KEY=${files.keyFile} is not the key of the certificate in TLS_CERT=${files.certFile} (they do not match)`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`TLS_CERT and TLS_KEY cannot be used together (${(err as Error).message})`);
  }
  return { cert, key, validTo: new Date(x509.validTo) };
}
