/**
 * <wsi-reauth-dialog>: signs in again in place when the session ended
 * while someone worked (idle, expired, signed out elsewhere). Nothing is
 * reloaded, and the slide stays usable (the dialog is not modal): the outbox keeps every edit meanwhile, and once the new
 * session's cookies are set its next retry sends them (SEC-07, SEC-08).
 */
import { LitElement, css, html } from 'lit';

export class WsiReauthDialog extends LitElement {
  static override properties = {
    open: { type: Boolean, reflect: true },
    problem: { state: true },
    busy: { state: true },
  };

  declare open: boolean;
  declare problem: string;
  declare busy: boolean;

  static override styles = css`
    :host {
      display: none;
    }
    /* not modal: over the slide list's corner, so the slide stays in view and one can keep working */
    :host([open]) {
      display: block;
      position: fixed;
      left: 10px;
      bottom: 10px;
      z-index: 1000;
      font: 14px/1.4 system-ui, sans-serif;
    }
    form {
      background: #fff;
      padding: 14px 16px;
      border-radius: 8px;
      width: min(280px, 90vw);
      box-shadow: 0 2px 12px rgb(0 0 0 / 30%);
    }
    label {
      display: block;
      margin: 8px 0;
    }
    input {
      display: block;
      width: 100%;
      box-sizing: border-box;
      padding: 5px 7px;
      margin-top: 3px;
    }
    .problem {
      color: #b42318;
      min-height: 1.4em;
    }
  `;

  constructor() {
    super();
    this.open = false;
    this.problem = '';
    this.busy = false;
  }

  private async submit(e: Event): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    this.busy = true;
    this.problem = '';
    try {
      const res = await fetch('/api/auth/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: data.get('username'), password: data.get('password'), ...(data.get('totp') ? { totp: data.get('totp') } : {}) }),
      });
      if (res.ok) {
        form.reset();
        this.open = false;
        this.dispatchEvent(new CustomEvent('wsi-signed-in', { bubbles: true, composed: true }));
        return;
      }
      this.problem = ((await res.json().catch(() => ({}))) as { message?: string }).message ?? `${res.status}`;
    } catch (err) {
      this.problem = `The server could not be reached (${(err as Error).message}).`;
    } finally {
      this.busy = false;
    }
  }

  protected override render(): unknown {
    return html`<form role="dialog" aria-modal="false" aria-labelledby="t" @submit=${(e: Event) => void this.submit(e)}>
      <strong id="t">Your session has ended</strong>
      <p>Sign in again to go on. Your unsaved edits are kept in this browser and are sent once you have.</p>
      <label>Login name <input name="username" data-testid="reauth-username" autocomplete="username" required /></label>
      <label>Password <input name="password" data-testid="reauth-password" type="password" autocomplete="current-password" required /></label>
      <label>Authenticator code (if you use one) <input name="totp" inputmode="numeric" autocomplete="one-time-code" maxlength="8" /></label>
      <button type="submit" data-testid="reauth-submit" ?disabled=${this.busy}>Sign in</button>
      <p class="problem" role="alert">${this.problem}</p>
    </form>`;
  }
}

if (!customElements.get('wsi-reauth-dialog')) customElements.define('wsi-reauth-dialog', WsiReauthDialog);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-reauth-dialog': WsiReauthDialog;
  }
}
