// Errors about data files. `userFacing` makes the CLIs (runMain) print just the message,
// without a stack trace; `file` lets callers (and tests) see which file was at fault.

export class DataError extends Error {
  override name = "DataError";
  userFacing = true;
  constructor(message: string, readonly file?: string) {
    super(message);
  }
}

/** What a user can do about a bad shard: depends on where the shard came from. */
export const FIX_SHARD = "delete it and re-create it with 'deno task data prepare' (embedded corpus) or 'deno task data download' (FineWeb-Edu shards)";

/** `file: problem; fix` as one error naming the file. */
export function shardError(file: string, problem: string, fix = FIX_SHARD): DataError {
  return new DataError(`${file}: ${problem}${fix ? `; ${fix}` : ""}`, file);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
