/**
 * Polls `check` until it returns something other than undefined or false,
 * and returns that; throws naming `what` after `timeoutMs`. Tests wait for
 * conditions, never for fixed times: the machine may be loaded.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
