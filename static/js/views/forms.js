// What every form and action button shares: a busy flag (which action is running), the error it
// ended with, and a runner; and the sentence to show for an error.
import { html, useState } from '../lib.js';

/** `run(work, key)` runs `work` unless something is running already; `busy` is the running
 * action's `key` (true when none was given) or false, `error` the ApiError it threw. */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (work, key = true) => {
    if (busy) return;
    setBusy(key);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}

/** The sentence for an ApiError: the server's own (its `detail` is written for people), or
 * what a failed connection means. */
export function describeError(error) {
  if (!error) return '';
  if (error.status === 0) return 'Cannot reach the server. Check your connection and try again.';
  return error.message || 'Something went wrong.';
}

/** The sentence for an ApiError of a request naming `username`: a 404 means nobody has it. */
export function describeUserError(error, username) {
  return error.status === 404 ? html`There is no user called “<bdi>${username}</bdi>”.` : describeError(error);
}
