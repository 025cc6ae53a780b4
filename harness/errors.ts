/* Error kinds that decide the exit code. The CLI maps UsageError to exit 2
 * (bad flags, unknown names, invalid files, programs not built): the user has
 * to fix something before a run can start. Everything else that escapes a
 * command is an internal failure. */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_OK = 0;
export const EXIT_CELL_FAILED = 1;
export const EXIT_USAGE = 2;
/* 128 + SIGINT, as shells report a program ended by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
