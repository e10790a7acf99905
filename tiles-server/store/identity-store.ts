/**
 * Accounts, sessions, API tokens, projects, memberships and project slides:
 * the store interface the identity services use (asynchronous, so a
 * PostgreSQL implementation can stand beside this one), and its SQLite
 * implementation. Secrets never reach this module in the clear: sessions
 * and tokens are stored as SHA-256 digests, passwords as Argon2id hashes.
 */
import type { Db } from './database.js';
import { SEED_PROJECT_PALETTE } from './project-palettes.js';

export type GlobalRole = 'user' | 'admin' | 'auditor';
export type ProjectRole = 'manager' | 'reviewer' | 'annotator' | 'viewer';
export type EditingMode = 'classic' | 'restricted' | 'read-only';
export type TokenKind = 'api' | 'embed';
export type TokenScope = 'read' | 'write';

export const GLOBAL_ROLES: readonly GlobalRole[] = ['user', 'admin', 'auditor'];
export const PROJECT_ROLES: readonly ProjectRole[] = ['manager', 'reviewer', 'annotator', 'viewer'];
export const EDITING_MODES: readonly EditingMode[] = ['classic', 'restricted', 'read-only'];

export interface User {
  id: string;
  username: string;
  displayName: string;
  globalRole: GlobalRole;
  disabled: boolean;
  passwordHash: string | null;
  totpSecret: string | null;
  /** Last TOTP time step accepted (a code is never accepted twice). */
  totpLastStep: number;
  oidcIssuer: string | null;
  oidcSub: string | null;
  /** A name that authored changes before accounts existed; such users cannot sign in. */
  legacy: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

export interface Session {
  idHash: string;
  userId: string;
  csrfHash: string;
  method: string;
  createdAt: string;
  lastSeenAt: string;
  /** Absolute end of the session. */
  expiresAt: string;
  revokedAt: string | null;
}

export interface ApiToken {
  id: string;
  userId: string;
  name: string;
  kind: TokenKind;
  scope: TokenScope;
  tokenHash: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface Project {
  id: string;
  name: string;
  editingMode: EditingMode;
  blind: boolean;
  /** The project holds every slide of the folder (the migrated Default project). */
  allSlides: boolean;
  createdAt: string;
}

export interface Member {
  projectId: string;
  userId: string;
  role: ProjectRole;
  addedAt: string;
}

/** A slide as a member of a project, with its own id. */
export interface ProjectSlide {
  id: string;
  projectId: string;
  slideId: string;
  studyCode: string;
  addedAt: string;
}

export interface IdentityStore {
  countAdmins(): Promise<number>;
  createUser(u: Omit<User, 'lastLoginAt'>): Promise<User>;
  userById(id: string): Promise<User | null>;
  userByName(username: string): Promise<User | null>;
  userByOidc(issuer: string, sub: string): Promise<User | null>;
  updateUser(id: string, patch: Partial<Pick<User, 'displayName' | 'globalRole' | 'disabled' | 'passwordHash' | 'totpSecret' | 'totpLastStep' | 'lastLoginAt'>>): Promise<void>;
  listUsers(): Promise<User[]>;

  createSession(s: Session): Promise<void>;
  sessionByHash(idHash: string): Promise<Session | null>;
  touchSession(idHash: string, at: string): Promise<void>;
  revokeSession(idHash: string, at: string): Promise<void>;
  revokeUserSessions(userId: string, at: string): Promise<number>;

  createToken(t: ApiToken): Promise<void>;
  tokenByHash(tokenHash: string): Promise<ApiToken | null>;
  tokensOf(userId: string): Promise<ApiToken[]>;
  touchToken(id: string, at: string): Promise<void>;
  revokeToken(id: string, at: string): Promise<void>;

  createProject(p: Project): Promise<void>;
  projectById(id: string): Promise<Project | null>;
  projectByName(name: string): Promise<Project | null>;
  listProjects(): Promise<Project[]>;
  updateProject(id: string, patch: Partial<Pick<Project, 'name' | 'editingMode' | 'blind'>>): Promise<void>;

  setMember(m: Member): Promise<void>;
  removeMember(projectId: string, userId: string): Promise<void>;
  membersOf(projectId: string): Promise<Member[]>;
  membershipsOf(userId: string): Promise<Member[]>;

  addProjectSlide(s: ProjectSlide): Promise<void>;
  removeProjectSlide(projectId: string, slideId: string): Promise<void>;
  projectSlideById(id: string): Promise<ProjectSlide | null>;
  projectSlidesOf(projectId: string): Promise<ProjectSlide[]>;

  /** One-time setup tokens (first admin). */
  createSetupToken(hash: string, expiresAt: string): Promise<void>;
  useSetupToken(hash: string, at: string): Promise<boolean>;

  /** Every author name in the annotation and mask histories (before accounts these were free text). */
  historyAuthors(): Promise<string[]>;
}

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  global_role: GlobalRole;
  disabled: number;
  password_hash: string | null;
  totp_secret: string | null;
  totp_last_step: number;
  oidc_issuer: string | null;
  oidc_sub: string | null;
  legacy: number;
  created_at: string;
  last_login_at: string | null;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  globalRole: r.global_role,
  disabled: r.disabled === 1,
  passwordHash: r.password_hash,
  totpSecret: r.totp_secret,
  totpLastStep: r.totp_last_step,
  oidcIssuer: r.oidc_issuer,
  oidcSub: r.oidc_sub,
  legacy: r.legacy === 1,
  createdAt: r.created_at,
  lastLoginAt: r.last_login_at,
});

interface SessionRow {
  id_hash: string;
  user_id: string;
  csrf_hash: string;
  method: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  revoked_at: string | null;
}

const toSession = (r: SessionRow): Session => ({
  idHash: r.id_hash,
  userId: r.user_id,
  csrfHash: r.csrf_hash,
  method: r.method,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

interface TokenRow {
  id: string;
  user_id: string;
  name: string;
  kind: TokenKind;
  scope: TokenScope;
  token_hash: string;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  kind: r.kind,
  scope: r.scope,
  tokenHash: r.token_hash,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

interface ProjectRow {
  id: string;
  name: string;
  editing_mode: EditingMode;
  blind: number;
  all_slides: number;
  created_at: string;
}

const toProject = (r: ProjectRow): Project => ({ id: r.id, name: r.name, editingMode: r.editing_mode, blind: r.blind === 1, allSlides: r.all_slides === 1, createdAt: r.created_at });

interface MemberRow {
  project_id: string;
  user_id: string;
  role: ProjectRole;
  added_at: string;
}

const toMember = (r: MemberRow): Member => ({ projectId: r.project_id, userId: r.user_id, role: r.role, addedAt: r.added_at });

interface SlideRow {
  id: string;
  project_id: string;
  slide_id: string;
  study_code: string;
  added_at: string;
}

const toSlide = (r: SlideRow): ProjectSlide => ({ id: r.id, projectId: r.project_id, slideId: r.slide_id, studyCode: r.study_code, addedAt: r.added_at });

/** The identity tables (portable SQL: TEXT ids, ISO times, INTEGER flags). */
export const IDENTITY_SCHEMA = `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    global_role TEXT NOT NULL CHECK (global_role IN ('user', 'admin', 'auditor')),
    disabled INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    totp_secret TEXT,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    oidc_issuer TEXT,
    oidc_sub TEXT,
    legacy INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_login_at TEXT,
    UNIQUE (oidc_issuer, oidc_sub)
  );
  CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_hash TEXT NOT NULL,
    method TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
  );
  CREATE INDEX sessions_by_user ON sessions (user_id);
  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('api', 'embed')),
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
  );
  CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
  CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    editing_mode TEXT NOT NULL CHECK (editing_mode IN ('classic', 'restricted', 'read-only')),
    blind INTEGER NOT NULL DEFAULT 0,
    all_slides INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  -- at most one project holds every slide of the folder
  CREATE UNIQUE INDEX projects_one_all_slides ON projects (all_slides) WHERE all_slides = 1;
  CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('manager', 'reviewer', 'annotator', 'viewer')),
    added_at TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
  );
  CREATE INDEX project_members_by_user ON project_members (user_id);
  CREATE TABLE project_slides (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    slide_id TEXT NOT NULL,
    study_code TEXT NOT NULL,
    added_at TEXT NOT NULL,
    UNIQUE (project_id, slide_id),
    UNIQUE (project_id, study_code)
  );
  CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL,
    used_at TEXT
  );
`;

export class SqliteIdentityStore implements IdentityStore {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      countAdmins: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM users WHERE global_role = 'admin' AND disabled = 0`),
      insertUser: db.prepare(
        `INSERT INTO users (id, username, display_name, global_role, disabled, password_hash, totp_secret, totp_last_step, oidc_issuer, oidc_sub, legacy, created_at)
         VALUES (@id, @username, @display_name, @global_role, @disabled, @password_hash, @totp_secret, @totp_last_step, @oidc_issuer, @oidc_sub, @legacy, @created_at)`,
      ),
      userById: db.prepare<[string], UserRow>(`SELECT * FROM users WHERE id = ?`),
      userByName: db.prepare<[string], UserRow>(`SELECT * FROM users WHERE username = ?`),
      userByOidc: db.prepare<[string, string], UserRow>(`SELECT * FROM users WHERE oidc_issuer = ? AND oidc_sub = ?`),
      listUsers: db.prepare<[], UserRow>(`SELECT * FROM users ORDER BY username`),
      insertSession: db.prepare(
        `INSERT INTO sessions (id_hash, user_id, csrf_hash, method, created_at, last_seen_at, expires_at, revoked_at)
         VALUES (@id_hash, @user_id, @csrf_hash, @method, @created_at, @last_seen_at, @expires_at, NULL)`,
      ),
      sessionByHash: db.prepare<[string], SessionRow>(`SELECT * FROM sessions WHERE id_hash = ?`),
      touchSession: db.prepare<[string, string]>(`UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`),
      revokeSession: db.prepare<[string, string]>(`UPDATE sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL`),
      revokeUserSessions: db.prepare<[string, string]>(`UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`),
      insertToken: db.prepare(
        `INSERT INTO api_tokens (id, user_id, name, kind, scope, token_hash, created_at, expires_at, last_used_at, revoked_at)
         VALUES (@id, @user_id, @name, @kind, @scope, @token_hash, @created_at, @expires_at, NULL, NULL)`,
      ),
      tokenByHash: db.prepare<[string], TokenRow>(`SELECT * FROM api_tokens WHERE token_hash = ?`),
      tokensOf: db.prepare<[string], TokenRow>(`SELECT * FROM api_tokens WHERE user_id = ? AND kind = 'api' ORDER BY created_at`),
      touchToken: db.prepare<[string, string]>(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`),
      revokeToken: db.prepare<[string, string]>(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`),
      seedPalette: db.prepare(SEED_PROJECT_PALETTE),
      insertProject: db.prepare(`INSERT INTO projects (id, name, editing_mode, blind, all_slides, created_at) VALUES (@id, @name, @editing_mode, @blind, @all_slides, @created_at)`),
      projectById: db.prepare<[string], ProjectRow>(`SELECT * FROM projects WHERE id = ?`),
      projectByName: db.prepare<[string], ProjectRow>(`SELECT * FROM projects WHERE name = ?`),
      listProjects: db.prepare<[], ProjectRow>(`SELECT * FROM projects ORDER BY name`),
      upsertMember: db.prepare(
        `INSERT INTO project_members (project_id, user_id, role, added_at) VALUES (@project_id, @user_id, @role, @added_at)
         ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role`,
      ),
      removeMember: db.prepare<[string, string]>(`DELETE FROM project_members WHERE project_id = ? AND user_id = ?`),
      membersOf: db.prepare<[string], MemberRow>(`SELECT * FROM project_members WHERE project_id = ? ORDER BY added_at`),
      membershipsOf: db.prepare<[string], MemberRow>(`SELECT * FROM project_members WHERE user_id = ?`),
      insertSlide: db.prepare(`INSERT INTO project_slides (id, project_id, slide_id, study_code, added_at) VALUES (@id, @project_id, @slide_id, @study_code, @added_at)`),
      removeSlide: db.prepare<[string, string]>(`DELETE FROM project_slides WHERE project_id = ? AND slide_id = ?`),
      slideById: db.prepare<[string], SlideRow>(`SELECT * FROM project_slides WHERE id = ?`),
      slidesOf: db.prepare<[string], SlideRow>(`SELECT * FROM project_slides WHERE project_id = ? ORDER BY study_code`),
      insertSetup: db.prepare<[string, string]>(`INSERT INTO setup_tokens (token_hash, expires_at, used_at) VALUES (?, ?, NULL)`),
      useSetup: db.prepare<[string, string, string]>(`UPDATE setup_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`),
      historyAuthors: db.prepare<[], { a: string }>(
        `SELECT author AS a FROM history UNION SELECT author FROM mask_history UNION SELECT annotator FROM mask_tiles ORDER BY 1`,
      ),
    };
  }

  countAdmins(): Promise<number> {
    return Promise.resolve(this.s.countAdmins.get()?.n ?? 0);
  }

  createUser(u: Omit<User, 'lastLoginAt'>): Promise<User> {
    this.s.insertUser.run({
      id: u.id,
      username: u.username,
      display_name: u.displayName,
      global_role: u.globalRole,
      disabled: u.disabled ? 1 : 0,
      password_hash: u.passwordHash,
      totp_secret: u.totpSecret,
      totp_last_step: u.totpLastStep,
      oidc_issuer: u.oidcIssuer,
      oidc_sub: u.oidcSub,
      legacy: u.legacy ? 1 : 0,
      created_at: u.createdAt,
    });
    return Promise.resolve({ ...u, lastLoginAt: null });
  }

  userById(id: string): Promise<User | null> {
    const r = this.s.userById.get(id);
    return Promise.resolve(r ? toUser(r) : null);
  }

  userByName(username: string): Promise<User | null> {
    const r = this.s.userByName.get(username);
    return Promise.resolve(r ? toUser(r) : null);
  }

  userByOidc(issuer: string, sub: string): Promise<User | null> {
    const r = this.s.userByOidc.get(issuer, sub);
    return Promise.resolve(r ? toUser(r) : null);
  }

  updateUser(id: string, patch: Partial<Pick<User, 'displayName' | 'globalRole' | 'disabled' | 'passwordHash' | 'totpSecret' | 'totpLastStep' | 'lastLoginAt'>>): Promise<void> {
    const columns: Record<string, string> = {
      displayName: 'display_name',
      globalRole: 'global_role',
      disabled: 'disabled',
      passwordHash: 'password_hash',
      totpSecret: 'totp_secret',
      totpLastStep: 'totp_last_step',
      lastLoginAt: 'last_login_at',
    };
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [k, v] of Object.entries(patch)) {
      const col = columns[k];
      if (!col || v === undefined) continue;
      sets.push(`${col} = ?`);
      values.push(typeof v === 'boolean' ? (v ? 1 : 0) : v);
    }
    if (sets.length > 0) this.db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    return Promise.resolve();
  }

  listUsers(): Promise<User[]> {
    return Promise.resolve(this.s.listUsers.all().map(toUser));
  }

  createSession(s: Session): Promise<void> {
    this.s.insertSession.run({
      id_hash: s.idHash,
      user_id: s.userId,
      csrf_hash: s.csrfHash,
      method: s.method,
      created_at: s.createdAt,
      last_seen_at: s.lastSeenAt,
      expires_at: s.expiresAt,
    });
    return Promise.resolve();
  }

  sessionByHash(idHash: string): Promise<Session | null> {
    const r = this.s.sessionByHash.get(idHash);
    return Promise.resolve(r ? toSession(r) : null);
  }

  touchSession(idHash: string, at: string): Promise<void> {
    this.s.touchSession.run(at, idHash);
    return Promise.resolve();
  }

  revokeSession(idHash: string, at: string): Promise<void> {
    this.s.revokeSession.run(at, idHash);
    return Promise.resolve();
  }

  revokeUserSessions(userId: string, at: string): Promise<number> {
    return Promise.resolve(this.s.revokeUserSessions.run(at, userId).changes);
  }

  createToken(t: ApiToken): Promise<void> {
    this.s.insertToken.run({ id: t.id, user_id: t.userId, name: t.name, kind: t.kind, scope: t.scope, token_hash: t.tokenHash, created_at: t.createdAt, expires_at: t.expiresAt });
    return Promise.resolve();
  }

  tokenByHash(tokenHash: string): Promise<ApiToken | null> {
    const r = this.s.tokenByHash.get(tokenHash);
    return Promise.resolve(r ? toToken(r) : null);
  }

  tokensOf(userId: string): Promise<ApiToken[]> {
    return Promise.resolve(this.s.tokensOf.all(userId).map(toToken));
  }

  touchToken(id: string, at: string): Promise<void> {
    this.s.touchToken.run(at, id);
    return Promise.resolve();
  }

  revokeToken(id: string, at: string): Promise<void> {
    this.s.revokeToken.run(at, id);
    return Promise.resolve();
  }

  createProject(p: Project): Promise<void> {
    this.db.transaction(() => {
      this.s.insertProject.run({ id: p.id, name: p.name, editing_mode: p.editingMode, blind: p.blind ? 1 : 0, all_slides: p.allSlides ? 1 : 0, created_at: p.createdAt });
      // a new project starts with a copy of the Default project's palette (store/project-palettes.ts)
      this.s.seedPalette.run({ id: p.id });
    })();
    return Promise.resolve();
  }

  projectById(id: string): Promise<Project | null> {
    const r = this.s.projectById.get(id);
    return Promise.resolve(r ? toProject(r) : null);
  }

  projectByName(name: string): Promise<Project | null> {
    const r = this.s.projectByName.get(name);
    return Promise.resolve(r ? toProject(r) : null);
  }

  listProjects(): Promise<Project[]> {
    return Promise.resolve(this.s.listProjects.all().map(toProject));
  }

  updateProject(id: string, patch: Partial<Pick<Project, 'name' | 'editingMode' | 'blind'>>): Promise<void> {
    if (patch.name !== undefined) this.db.prepare(`UPDATE projects SET name = ? WHERE id = ?`).run(patch.name, id);
    if (patch.editingMode !== undefined) this.db.prepare(`UPDATE projects SET editing_mode = ? WHERE id = ?`).run(patch.editingMode, id);
    if (patch.blind !== undefined) this.db.prepare(`UPDATE projects SET blind = ? WHERE id = ?`).run(patch.blind ? 1 : 0, id);
    return Promise.resolve();
  }

  setMember(m: Member): Promise<void> {
    this.s.upsertMember.run({ project_id: m.projectId, user_id: m.userId, role: m.role, added_at: m.addedAt });
    return Promise.resolve();
  }

  removeMember(projectId: string, userId: string): Promise<void> {
    this.s.removeMember.run(projectId, userId);
    return Promise.resolve();
  }

  membersOf(projectId: string): Promise<Member[]> {
    return Promise.resolve(this.s.membersOf.all(projectId).map(toMember));
  }

  membershipsOf(userId: string): Promise<Member[]> {
    return Promise.resolve(this.s.membershipsOf.all(userId).map(toMember));
  }

  addProjectSlide(s: ProjectSlide): Promise<void> {
    this.s.insertSlide.run({ id: s.id, project_id: s.projectId, slide_id: s.slideId, study_code: s.studyCode, added_at: s.addedAt });
    return Promise.resolve();
  }

  removeProjectSlide(projectId: string, slideId: string): Promise<void> {
    this.s.removeSlide.run(projectId, slideId);
    return Promise.resolve();
  }

  projectSlideById(id: string): Promise<ProjectSlide | null> {
    const r = this.s.slideById.get(id);
    return Promise.resolve(r ? toSlide(r) : null);
  }

  projectSlidesOf(projectId: string): Promise<ProjectSlide[]> {
    return Promise.resolve(this.s.slidesOf.all(projectId).map(toSlide));
  }

  createSetupToken(hash: string, expiresAt: string): Promise<void> {
    this.s.insertSetup.run(hash, expiresAt);
    return Promise.resolve();
  }

  useSetupToken(hash: string, at: string): Promise<boolean> {
    return Promise.resolve(this.s.useSetup.run(at, hash, at).changes === 1);
  }

  historyAuthors(): Promise<string[]> {
    return Promise.resolve(this.s.historyAuthors.all().map((r) => r.a).filter((a) => a !== ''));
  }
}
