// Errors about data files; `file` lets callers (and tests) see which file was at fault.
import { UserError } from "../util/errors.ts";

export class DataError extends UserError {
  override name = "DataError";
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
