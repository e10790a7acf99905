/**
 * `npm run admin -- <command>`: accounts, tokens, projects and members,
 * the audit chain, backups and restores, on the DATA_DIR the server uses
 * (it may be running: SQLite serialises the writes, and the server sees a
 * disabled account within 10 s). Secrets are read from stdin, never taken
 * from arguments (they would sit in the shell history and the process
 * list). Every change is recorded in the audit log as made from the CLI.
 */
import { chmod, copyFile, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WsiError } from '../src/core/errors.js';
import { AuditLog, type AuditEvent } from './audit/audit-log.js';
import { adoptExistingData } from './identity/adopt.js';
import { AuthService, normalizeUsername } from './identity/auth-service.js';
import { newId } from './identity/secrets.js';
import { PRIVATE_FILE_MODE, privateDir } from './private-files.js';
import { SqliteAuditStore } from './store/audit-store.js';
import { backupTo, summarize } from './store/backup.js';
import { openDatabase, type Db } from './store/database.js';
import { EDITING_MODES, GLOBAL_ROLES, PROJECT_ROLES, SqliteIdentityStore, type EditingMode, type GlobalRole, type ProjectRole } from './store/identity-store.js';

const USAGE = `npm run admin -- <command>
  user add <name> [--role user|admin|auditor]   password on stdin
  user disable <name> | user enable <name>
  user reset-password <name>                     password on stdin
  token add <user> <token name> [--scope read|write] [--days N]   prints the token once
  token revoke <token id>
  project add <name> [--mode classic|restricted|read-only] [--blind]
  member set <project name> <user> <manager|reviewer|annotator|viewer>
  audit verify
  check                                          rows, annotation and mask hashes, audit chain
  backup <file>                                  an online backup of the database; keep DATA_DIR/audit.key and
                                                 DATA_DIR/server-secret with it (they are not in the database)
  restore <file>                                 into this DATA_DIR, which must hold no database yet (put
                                                 audit.key and server-secret there first)
Environment: DATA_DIR (default ./data).`;

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function option(args: string[], name: string): string | null {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fail(`--${name} needs a value`)) : null;
}

function oneOf<T extends string>(v: string, allowed: readonly T[], what: string): T {
  if (!allowed.includes(v as T)) fail(`${what} must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** The first line of stdin (a secret, never an argument). */
async function secretFromStdin(what: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`${what}: `);
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const line = text.split(/\r?\n/)[0] ?? '';
  if (!line) fail(`${what} expected on stdin`);
  return line;
}

interface Context {
  db: Db;
  auth: AuthService;
  log: AuditLog;
  audit(e: Omit<AuditEvent, 'actor'>): void;
}

function open(dataDir: string): Context {
  const db = openDatabase(join(dataDir, 'wsi.db'));
  const store = new SqliteIdentityStore(db);
  const auth = new AuthService(store, { idleMs: 0, maxMs: 0, cacheMs: 0, embedMs: 0 });
  const log = new AuditLog(new SqliteAuditStore(db), dataDir);
  return { db, auth, log, audit: (e) => log.append([{ actor: null, ...e, detail: { ...e.detail, via: 'cli' } }]) };
}

function close(c: Context): void {
  c.log.close();
  c.db.close();
}

async function userByName(c: Context, name: string): Promise<{ id: string }> {
  const user = await c.auth.store.userByName(normalizeUsername(name));
  if (!user || user.legacy) fail(`no user ${name}`);
  return user;
}

async function run(args: string[], dataDir: string): Promise<void> {
  const [group, verb, ...rest] = args;
  const cmd = `${group ?? ''} ${verb ?? ''}`.trim();
  if (group === 'restore') {
    const file = resolve(verb ?? fail('restore <file>'));
    const target = join(dataDir, 'wsi.db');
    // slide ids are keyed by server-secret; the audit checkpoints by audit.key (a fresh one is made if it is missing, and then they do not verify)
    const warnings = (await stat(join(dataDir, 'server-secret')).catch(() => null))
      ? []
      : ['DATA_DIR has no server-secret: put the backed-up one there before starting the server, or every slide gets a new id and the annotations seem gone'];
    if (await stat(target).catch(() => null)) fail(`${target} exists: restore into an empty DATA_DIR (move the old one aside first)`);
    await mkdir(dataDir, { recursive: true });
    privateDir(dataDir, () => undefined);
    const t0 = performance.now();
    // the backup is checked (integrity, schema) before it takes the database's place
    openDatabase(file, { check: true }).close();
    await copyFile(file, target);
    await chmod(target, PRIVATE_FILE_MODE);
    const c = open(dataDir);
    try {
      const out = { restored: target, ms: Math.round(performance.now() - t0), ...summarize(c.db), audit: c.log.verify(), warnings };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      if (!out.audit.ok) process.exitCode = 2;
    } finally {
      close(c);
    }
    return;
  }
  const c = open(dataDir);
  try {
    switch (group === 'audit' || group === 'check' || group === 'backup' ? group : cmd) {
      case 'user add': {
        const name = rest[0] ?? fail('user add <name>');
        const role = oneOf<GlobalRole>(option(rest, 'role') ?? 'user', GLOBAL_ROLES, '--role');
        const first = role === 'admin' && (await c.auth.store.countAdmins()) === 0;
        const user = await c.auth.createUser({ username: name, password: await secretFromStdin('password'), globalRole: role });
        c.audit({ action: 'user.create', target: user.id, detail: { globalRole: role } });
        // the first admin, as through the setup link: the data of before accounts goes into the Default project
        if (first) await adoptExistingData(c.auth.store, user);
        process.stdout.write(`${JSON.stringify({ id: user.id, username: user.username, globalRole: role })}\n`);
        break;
      }
      case 'user disable':
      case 'user enable': {
        const user = await userByName(c, rest[0] ?? fail(`${cmd} <name>`));
        await c.auth.setDisabled(user.id, verb === 'disable');
        c.audit({ action: 'user.update', target: user.id, detail: { disabled: verb === 'disable' } });
        process.stdout.write(`${JSON.stringify({ id: user.id, disabled: verb === 'disable' })}\n`);
        break;
      }
      case 'user reset-password': {
        const user = await userByName(c, rest[0] ?? fail('user reset-password <name>'));
        await c.auth.setPassword(user.id, await secretFromStdin('new password'));
        c.audit({ action: 'user.update', target: user.id, detail: { password: true } });
        process.stdout.write(`${JSON.stringify({ id: user.id, password: 'changed; sessions ended' })}\n`);
        break;
      }
      case 'token add': {
        const user = await c.auth.store.userById((await userByName(c, rest[0] ?? fail('token add <user> <name>'))).id);
        if (!user) fail('no such user');
        const scope = oneOf(option(rest, 'scope') ?? 'read', ['read', 'write'] as const, '--scope');
        const days = Number(option(rest, 'days') ?? '90');
        if (!Number.isInteger(days) || days < 1 || days > 366) fail('--days must be 1 to 366');
        const { token, record } = await c.auth.createToken(user, { name: rest[1] ?? fail('token add <user> <name>'), kind: 'api', scope, expiresInMs: days * 86_400_000 });
        c.audit({ action: 'token.create', target: record.id, detail: { scope } });
        process.stdout.write(`${JSON.stringify({ id: record.id, token, scope, expiresAt: record.expiresAt })}\n`);
        break;
      }
      case 'token revoke': {
        const id = rest[0] ?? fail('token revoke <id>');
        await c.auth.store.revokeToken(id, new Date().toISOString());
        c.audit({ action: 'token.revoke', target: id });
        process.stdout.write(`${JSON.stringify({ revoked: id })}\n`);
        break;
      }
      case 'project add': {
        const name = (rest[0] ?? fail('project add <name>')).trim();
        if (!name || name.length > 128) fail('a project name is 1–128 characters');
        if (await c.auth.store.projectByName(name)) fail(`a project named ${name} exists`);
        const project = { id: newId(), name, editingMode: oneOf<EditingMode>(option(rest, 'mode') ?? 'classic', EDITING_MODES, '--mode'), blind: rest.includes('--blind'), allSlides: false, createdAt: new Date().toISOString() };
        await c.auth.store.createProject(project);
        c.audit({ action: 'project.create', projectId: project.id, target: project.id, detail: { editingMode: project.editingMode, blind: project.blind } });
        process.stdout.write(`${JSON.stringify(project)}\n`);
        break;
      }
      case 'member set': {
        const project = await c.auth.store.projectByName(rest[0] ?? fail('member set <project> <user> <role>'));
        if (!project) fail(`no project ${rest[0] ?? ''}`);
        const user = await userByName(c, rest[1] ?? fail('member set <project> <user> <role>'));
        const role = oneOf<ProjectRole>(rest[2] ?? '', PROJECT_ROLES, 'role');
        await c.auth.store.setMember({ projectId: project.id, userId: user.id, role, addedAt: new Date().toISOString() });
        c.audit({ action: 'member.set', projectId: project.id, target: user.id, detail: { role } });
        process.stdout.write(`${JSON.stringify({ projectId: project.id, userId: user.id, role })}\n`);
        break;
      }
      case 'audit': {
        if (verb !== 'verify') fail(USAGE);
        const result = c.log.verify();
        process.stdout.write(`${JSON.stringify(result)}\n`);
        if (!result.ok) process.exitCode = 2;
        break;
      }
      case 'check': {
        const audit = c.log.verify();
        process.stdout.write(`${JSON.stringify({ ...summarize(c.db), audit })}\n`);
        if (!audit.ok) process.exitCode = 2;
        break;
      }
      case 'backup': {
        const file = resolve(verb ?? fail('backup <file>'));
        if (await stat(file).catch(() => null)) fail(`${file} exists; choose a new file`);
        c.log.checkpointNow();
        const t0 = performance.now();
        await backupTo(c.db, file);
            await chmod(file, PRIVATE_FILE_MODE);
        c.audit({ action: 'backup', detail: { ms: Math.round(performance.now() - t0) } });
        // the summary of what the backup holds, to compare with its restored copy
        const copy = openDatabase(file, { check: true });
        try {
          process.stdout.write(`${JSON.stringify({ backup: file, ms: Math.round(performance.now() - t0), ...summarize(copy) })}\n`);
        } finally {
          copy.close();
        }
        break;
      }
      default:
        fail(USAGE);
    }
  } finally {
    close(c);
  }
}

const dataDir = resolve(process.env['DATA_DIR'] ?? './data');
run(process.argv.slice(2), dataDir).catch((err: unknown) => {
  fail(err instanceof WsiError ? `${err.code}: ${err.message}` : `failed: ${(err as Error).message}`);
});
