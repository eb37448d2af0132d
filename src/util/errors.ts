// The one kind of error a user can act on: the CLIs (runMain) print its message alone,
// without a stack, and the lab shows it as is. The message names the file, field or
// setting at fault and what to do. Each area subclasses it only to carry its name (and,
// where callers need it, the file or path at fault); anything else that escapes is a
// bug and is printed with a hint to get the stack.
export class UserError extends Error {
  override name = "UserError";
  readonly userFacing = true;
}

/** True for errors meant for the user (a UserError, or anything marked userFacing). */
export function isUserError(err: unknown): err is Error {
  return err instanceof UserError || (typeof err === "object" && err !== null && (err as { userFacing?: unknown }).userFacing === true);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
