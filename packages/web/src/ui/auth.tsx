/** Sign up and log in. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { MIN_PASSWORD_LENGTH, USERNAME_PATTERN } from '@parley/protocol';
import { app, errorText } from '../state/store.js';
import { useApp } from './use-app.js';

const USERNAME_RULES = '3-32 characters of a-z, 0-9, "_" and "." (capitals become lowercase).';

export function AuthScreen(): JSX.Element {
  const store = useApp();
  const [mode, setMode] = useState<'login' | 'signup'>('login');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event): Promise<void> {
    e.preventDefault();
    setError(null);
    const user = username.trim().toLowerCase();
    if (mode === 'signup') {
      if (!USERNAME_PATTERN.test(user)) {
        setError(`Username: ${USERNAME_RULES}`);
        return;
      }
      if (password.length < MIN_PASSWORD_LENGTH) {
        setError(`Password: at least ${MIN_PASSWORD_LENGTH} characters.`);
        return;
      }
    }
    setBusy(true);
    try {
      if (mode === 'signup') await app.signup(user, password, displayName);
      else await app.login(user, password);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  }

  const signup = mode === 'signup';
  return (
    <main class="auth">
      <div class="auth-card">
        <div class="auth-logo" aria-hidden="true">
          <img src="/icons/icon.svg" alt="" width={64} height={64} />
        </div>
        <h1>{signup ? 'Create your account' : 'Log in to Parley'}</h1>
        {store.loggedOutReason !== null && !signup && <p class="notice">{store.loggedOutReason}</p>}
        <form onSubmit={(e) => void submit(e)} noValidate>
          <label>
            <span>Username</span>
            <input
              name="username"
              autocomplete="username"
              autocapitalize="none"
              spellcheck={false}
              required
              aria-describedby={signup ? 'username-rules' : undefined}
              value={username}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
          </label>
          {signup && (
            <p class="hint" id="username-rules">
              {USERNAME_RULES}
            </p>
          )}
          {signup && (
            <label>
              <span>Display name (optional)</span>
              <input
                name="displayName"
                autocomplete="name"
                maxLength={64}
                value={displayName}
                onInput={(e) => setDisplayName(e.currentTarget.value)}
              />
            </label>
          )}
          <label>
            <span>Password</span>
            <input
              name="password"
              type="password"
              autocomplete={signup ? 'new-password' : 'current-password'}
              required
              aria-describedby={signup ? 'password-rules' : undefined}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          {signup && (
            <p class="hint" id="password-rules">
              At least {MIN_PASSWORD_LENGTH} characters.
            </p>
          )}
          {error !== null && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <button class="primary" type="submit" disabled={busy}>
            {busy ? 'Please wait…' : signup ? 'Sign up' : 'Log in'}
          </button>
        </form>
        <p class="switch">
          {signup ? 'Already have an account?' : 'New to Parley?'}{' '}
          <button
            type="button"
            class="link"
            onClick={() => {
              setMode(signup ? 'login' : 'signup');
              setError(null);
            }}
          >
            {signup ? 'Log in' : 'Create an account'}
          </button>
        </p>
      </div>
    </main>
  );
}
