// Sign-in and sign-up (SPEC §6 names). An address with #invite=CODE (or ?invite=CODE) opens
// sign-up with the code filled in; a 403 that asks for an invite shows the invite field. On a
// first run (no account yet, says GET /healthz) it opens on sign-up and says that the first
// account becomes the administrator; on an invite-only server sign-up asks for the code at once.
import { html, useEffect, useState, storage } from '../lib.js';
import * as actions from '../actions.js';
import { state } from '../store.js';
import { useSubmit } from './forms.js';
import { Logo } from './icons.js';

function inviteFromAddress() {
  const m = /(?:^#|[#&?/])invite=([^&]+)/.exec(location.hash) || /[?&]invite=([^&]+)/.exec(location.search);
  return m ? decodeURIComponent(m[1]) : '';
}

/** A labelled input; the server's problem with it replaces its hint. */
function Field({ id, label, error, field, hint, ...input }) {
  const problem = error?.fields?.[field];
  const note = problem || hint;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} aria-invalid=${problem ? 'true' : undefined} aria-describedby=${note ? `${id}-note` : undefined} ...${input} />
    ${note ? html`<p class=${problem ? 'field-error' : 'hint'} id=${`${id}-note`}>${problem ? `${label} ${problem}.` : hint}</p>` : null}
  </div>`;
}

/** The alert under the form: the server's sentence, or a pointer to the fields it named. */
function summary(error, shownFields) {
  const named = Object.keys(error.fields ?? {});
  if (named.length && named.every((f) => shownFields.includes(f))) {
    return named.length === 1 ? 'Please correct the field marked above.' : 'Please correct the fields marked above.';
  }
  return error.message;
}

export function SignIn() {
  const invite = inviteFromAddress();
  const { serverAtStart } = state;
  const firstRun = Boolean(serverAtStart?.first_run);
  const [mode, setMode] = useState(invite || firstRun ? 'signup' : 'login');
  const [form, setForm] = useState({ login: storage.get('natter.lastLogin', '') || '', password: '', username: '', email: '', invite });
  const [needInvite, setNeedInvite] = useState(Boolean(invite) || serverAtStart?.registration === 'invite');
  const { busy, error, run, setError } = useSubmit();
  useEffect(() => { document.title = mode === 'login' ? 'Log in · natter' : 'Create an account · natter'; }, [mode]);

  const bind = (key) => ({ value: form[key], onInput: (e) => setForm({ ...form, [key]: e.currentTarget.value }) });
  const switchTo = (next) => {
    setMode(next);
    setError(null);
    setForm((f) => ({ ...f, password: '' }));
  };
  const signUp = async () => {
    try {
      await actions.signup({ username: form.username.trim(), email: form.email.trim(), password: form.password, invite: form.invite.trim() });
    } catch (e) {
      if (e.status === 403 && /invite/i.test(e.message)) setNeedInvite(true);
      throw e;
    }
    if (/invite=/.test(location.hash + location.search)) history.replaceState(null, '', location.pathname);
  };
  const submit = (event) => {
    event.preventDefault();
    run(mode === 'login' ? () => actions.login(form.login.trim(), form.password) : signUp);
  };

  const login = mode === 'login';
  return html`<main class="auth">
    <div class="auth-card">
      <div class="auth-brand"><${Logo} size=${44} /><span class="wordmark">natter</span></div>
      <h1 class="auth-title">${login ? 'Log in' : 'Create an account'}</h1>
      <p class="auth-lead">${login ? 'Welcome back. Your chats are waiting.' : 'It takes a few seconds, and you are in.'}</p>
      ${firstRun && !login ? (serverAtStart?.registration === 'invite' && !invite
        ? html`<p class="notice first-run">This server has no accounts yet, and signing up needs an invite. Whoever runs it makes
            the first one with <code>natter invite</code> on the server (it prints a link); the account made with that link
            becomes the administrator.</p>`
        : serverAtStart?.registration === 'closed'
          ? html`<p class="notice first-run">This server has no accounts yet and signing up is closed. Whoever runs it creates
              the first account with <code>natter user add</code> on the server.</p>`
          : html`<p class="notice first-run">This server has no accounts yet: the first account becomes the administrator.</p>`) : null}
      ${state.notice && login ? html`<p class="notice" role="alert">${state.notice}</p>` : null}
      <form class="stack" onSubmit=${submit} novalidate key=${mode}>
        ${login ? html`
          <${Field} id="login-name" label="Email or username" type="text" autocomplete="username" autocapitalize="none"
            spellcheck="false" required autofocus ...${bind('login')} />
          <${Field} id="login-password" label="Password" type="password" autocomplete="current-password" required ...${bind('password')} />
        ` : html`
          <${Field} id="signup-username" label="Username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false"
            required autofocus error=${error} field="username" hint="3–32 letters, digits, dots, dashes or underscores." ...${bind('username')} />
          <${Field} id="signup-email" label="Email" type="email" autocomplete="email" required error=${error} field="email" ...${bind('email')} />
          <${Field} id="signup-password" label="Password" type="password" autocomplete="new-password" required
            error=${error} field="password" hint="At least 8 characters." ...${bind('password')} />
          ${needInvite ? html`<${Field} id="signup-invite" label="Invite code" type="text" autocomplete="off" error=${error} field="invite" ...${bind('invite')} />` : null}
        `}
        ${error ? html`<p class="form-error" role="alert">${summary(error, login ? [] : ['username', 'email', 'password', needInvite && 'invite'])}</p>` : null}
        <button type="submit" class="btn primary wide" aria-busy=${busy ? 'true' : undefined} disabled=${busy}>${login ? 'Log in' : 'Sign up'}</button>
      </form>
      <p class="auth-switch">
        ${login
          ? html`New here? <button type="button" class="link" onClick=${() => switchTo('signup')}>Create an account</button>`
          : html`Already have an account? <button type="button" class="link" onClick=${() => switchTo('login')}>Log in instead</button>`}
      </p>
    </div>
  </main>`;
}
