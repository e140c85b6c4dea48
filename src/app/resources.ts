/**
 * The resources a role starts, in the order it started them, each with how to stop it. One list
 * serves both endings: when a start fails, its owner stops what had started; the graceful
 * shutdown stops everything. Both go last started first, so nothing is stopped while something
 * started after it (and so possibly using it) still runs.
 */

/** A started resource and how to stop it. */
interface Resource {
  /** Names the resource when its stop fails. */
  readonly name: string;
  stop(): Promise<unknown> | unknown;
}

/** The stops that threw, each named by its resource; the rest still ran. */
export class StopError extends AggregateError {
  constructor(readonly failures: ReadonlyArray<{ name: string; error: unknown }>) {
    super(
      failures.map((f) => f.error),
      `failed to stop ${failures.map((f) => f.name).join(', ')}`,
    );
    this.name = 'StopError';
  }
}

export class ResourceStack {
  private readonly started: Resource[] = [];
  private stopping: Promise<void> | null = null;

  /**
   * Starts one resource and records it with its stop, which receives what `start` returned. A
   * start that throws records nothing (it did not start), so `stop()` then stops only the
   * resources before it.
   */
  async add<T>(name: string, start: () => Promise<T> | T, stop: (started: T) => Promise<unknown> | unknown): Promise<T> {
    this.refuseWhenStopping(name);
    const value = await start();
    this.started.push({ name, stop: () => stop(value) });
    return value;
  }

  /**
   * Stops every resource, last started first, each once. A stop that throws does not keep the
   * others from running; once all have run, the returned promise rejects with a `StopError`
   * naming those that failed. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    const failures: Array<{ name: string; error: unknown }> = [];
    for (const resource of this.started.splice(0).reverse()) {
      try {
        await resource.stop();
      } catch (error) {
        failures.push({ name: resource.name, error });
      }
    }
    if (failures.length > 0) throw new StopError(failures);
  }

  private refuseWhenStopping(name: string): void {
    if (this.stopping) throw new Error(`cannot start ${name}: the resources are being stopped`);
  }
}
