/**
 * Runs async calls one at a time, in arrival order. The calls of one model share one wasm heap, and
 * a call allocates its forward pass before its first await, so calls that overlapped would stack
 * their memory; one at a time they give exactly the results of the same calls made in sequence.
 */
export class CallQueue {
  private readonly waiting: { start(): void; reject(err: Error): void }[] = [];
  private running: Promise<unknown> | undefined;
  private closedBy: (() => Error) | undefined;

  /** Whether a call is running now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  run<T>(call: () => Promise<T>): Promise<T> {
    if (this.closedBy) return Promise.reject(this.closedBy());
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        const done = (async () => call())();
        this.running = done;
        // The queue moves on before the caller hears back, so a caller that disposes right after its
        // call sees the queue idle (and the model is freed at once).
        const next = () => {
          this.running = undefined;
          this.waiting.shift()?.start();
        };
        done.then(
          (value) => (next(), resolve(value)),
          (err: unknown) => (next(), reject(err)),
        );
      };
      if (this.running) this.waiting.push({ start, reject });
      else start();
    });
  }

  /**
   * Refuses new calls and rejects the waiting ones with `error()`; resolves once the running call
   * (if any) has settled.
   */
  async close(error: () => Error): Promise<void> {
    this.closedBy = error;
    for (const w of this.waiting.splice(0)) w.reject(error());
    await this.running?.catch(() => undefined);
  }
}
