// ServiceManager: how an LB's engine is started, reloaded, stopped and kept alive. Two
// implementations with the same behaviour seen from the API: systemd.ts (a unit per LB, as in
// Octavia's image) and process.ts (the agent spawns and supervises the engine: containers,
// development, tests).
//
// Callers hold the LB's lock (KeyedMutex) around every call; failures throw
// ServiceActionError(action, output), which the API answers 500 "Error <action>ing haproxy".

export interface ServiceManager {
  readonly kind: 'systemd' | 'process';
  /** After a config was stored: prepare what start needs (systemd: unit file, enable).
   *  Never starts or reloads anything (the controller follows with a reload). */
  install(lbId: string): Promise<void>;
  /** Start the engine; a no-op when it already runs. Resolves once it serves. */
  start(lbId: string): Promise<void>;
  /** Apply the stored config to the running engine without dropping connections. */
  reload(lbId: string): Promise<void>;
  /** Stop the engine (and its supervision); a no-op when it does not run. */
  stop(lbId: string): Promise<void>;
  /** Whether the engine of this LB runs now. */
  isRunning(lbId: string): boolean;
  /** After an agent restart: take charge of an engine that is still running (true), if any. */
  adopt(lbId: string): Promise<boolean>;
  /** The LB is being deleted (already stopped): remove what install() created. */
  uninstall(lbId: string): Promise<void>;
  /** The agent is shutting down: stop supervising, leave every engine running. */
  close(): Promise<void>;
}
