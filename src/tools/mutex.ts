/**
 * A FIFO mutex. `lock()` resolves at once when free (no queueing cost on the
 * uncontended path) and otherwise in the order callers asked.
 */
export class Mutex {
  #locked = false;
  #waiters: Array<() => void> = [];

  get locked(): boolean {
    return this.#locked;
  }

  /** How many callers are waiting (not counting the holder). */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes the lock if it is free; returns whether it did. */
  tryLock(): boolean {
    if (this.#locked) return false;
    this.#locked = true;
    return true;
  }

  lock(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  unlock(): void {
    const next = this.#waiters.shift();
    // Hand the lock straight to the next waiter so nobody can barge in between.
    if (next) next();
    else this.#locked = false;
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.lock();
    try {
      return await fn();
    } finally {
      this.unlock();
    }
  }
}
